"""PostgreSQL's own programs (``pg_dump``, ``pg_restore``): found on the PATH, checked against the
server's version, and given the connection through the environment, so that the password never
appears on a command line."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

from comptoir.core.ops import OpsError

#: Connection options of Django's settings that libpq also reads from the environment.
_OPTION_VARIABLES = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "passfile": "PGPASSFILE",
    "service": "PGSERVICE",
    "connect_timeout": "PGCONNECT_TIMEOUT",
}
_VERSION = re.compile(r"\(PostgreSQL\)\s*(\d+(?:\.\d+)*)")


@dataclass(frozen=True)
class Tool:
    name: str
    path: str
    version: str
    major: int


def find(name: str, *, server_major: int | None = None) -> Tool:
    """The program on the PATH; refuses it when missing, or older than the server's major
    version (an older ``pg_dump`` refuses a newer server, and may not read all of it)."""
    path = shutil.which(name)
    wanted = f"postgresql-client-{server_major}" if server_major else "postgresql-client"
    if path is None:
        raise OpsError(
            "pg_tool_missing",
            f"{name} was not found on the PATH. Install PostgreSQL's client programs "
            f"(on Debian or Ubuntu: apt install {wanted}), or add the folder holding {name} "
            "to the PATH.",
            tool=name,
        )
    try:
        answer = subprocess.run(  # noqa: S603 - a program found on the PATH, no shell
            [path, "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except OSError as exc:
        raise OpsError("pg_tool_failed", f"{path} could not be run: {exc}.", tool=name) from exc
    match = _VERSION.search(answer.stdout)
    if answer.returncode != 0 or match is None:
        raise OpsError(
            "pg_tool_failed",
            f"{path} --version did not say its version ({answer.stdout.strip()[:200]!r}).",
            tool=name,
        )
    version = match.group(1)
    major = int(version.split(".")[0])
    if server_major is not None and major < server_major:
        raise OpsError(
            "pg_tool_too_old",
            f"{path} is version {version}, older than the PostgreSQL server ({server_major}). "
            f"Install the client programs of version {server_major} or later "
            f"(on Debian or Ubuntu: apt install {wanted}) and put them first on the PATH.",
            tool=name,
            tool_version=version,
            server_major=server_major,
        )
    return Tool(name=name, path=path, version=version, major=major)


def server_major(connection: Any) -> int:
    connection.ensure_connection()
    return int(connection.pg_version) // 10000


def server_version(connection: Any) -> str:
    connection.ensure_connection()
    number = int(connection.pg_version)
    return f"{number // 10000}.{number % 10000}"


def environment(settings_dict: dict[str, Any]) -> dict[str, str]:
    """This process's environment with the database's connection in libpq's variables."""
    env = dict(os.environ)
    options = settings_dict.get("OPTIONS") or {}
    given = {
        "PGHOST": settings_dict.get("HOST"),
        "PGPORT": settings_dict.get("PORT"),
        "PGUSER": settings_dict.get("USER"),
        "PGPASSWORD": settings_dict.get("PASSWORD"),
        "PGDATABASE": settings_dict.get("NAME"),
        **{variable: options.get(option) for option, variable in _OPTION_VARIABLES.items()},
    }
    env.update({variable: str(value) for variable, value in given.items() if value})
    return env


def run(tool: Tool, arguments: list[str], env: dict[str, str]) -> str:
    """Run the program to its end and return what it wrote; refuses with the end of what it
    said when it fails."""
    try:
        done = subprocess.run(  # noqa: S603 - a program found on the PATH, no shell
            [tool.path, *arguments], env=env, capture_output=True, text=True, check=False
        )
    except OSError as exc:
        raise OpsError("pg_tool_failed", f"{tool.path} could not be run: {exc}.") from exc
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise OpsError(
            "pg_tool_failed",
            f"{tool.name} failed (exit {done.returncode}): " + " / ".join(said[-6:])[:2000],
            tool=tool.name,
        )
    return done.stdout
