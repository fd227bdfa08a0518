#!/usr/bin/env python3
"""Developer entry point for Comptoir (standard library only).

Usage: python3 dev.py COMMAND [ARGS...]

  start [serve args]   set up .venv, migrate and load demo data, run the server
  test [pytest args]   set up .venv, run the test suite
  lint                 ruff, lint-imports, migrations and OpenAPI up to date
  lock                 regenerate constraints.txt from .venv
"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
PYTHON = BIN / "python"
STAMP = VENV / ".comptoir-install-stamp"
CONSTRAINTS = ROOT / "constraints.txt"
LOCK_EXCLUDE = {"comptoir", "pip", "setuptools", "wheel"}
LOCK_HEADER = """\
# Pinned versions of every dependency (direct and indirect) of Comptoir,
# used as pip constraints by `python3 dev.py start|test|lint` and CI.
# Regenerate after changing dependencies in pyproject.toml:
#   python3 dev.py lock
"""


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def run(*args: str | Path, env: dict[str, str] | None = None) -> int:
    return subprocess.call([str(a) for a in args], cwd=ROOT, env=env)  # noqa: S603


def deps_hash() -> str:
    digest = hashlib.sha256()
    for path in (ROOT / "pyproject.toml", CONSTRAINTS):
        digest.update(path.read_bytes() if path.exists() else b"")
        digest.update(b"\0")
    return digest.hexdigest()


def stamp_is_current() -> bool:
    return STAMP.exists() and STAMP.read_text().strip() == deps_hash()


def ensure_venv() -> None:
    if not PYTHON.exists():
        say("Creating the virtual environment in .venv…")
        if run(sys.executable, "-m", "venv", VENV) != 0:
            sys.exit("Could not create .venv (on Debian/Ubuntu: apt install python3-venv).")
    if stamp_is_current():
        return
    say("Installing dependencies…")
    STAMP.unlink(missing_ok=True)
    pip: list[str | Path] = [PYTHON, "-m", "pip", "install", "--disable-pip-version-check"]
    pip += ["-e", ".[dev,postgres,redis]"]
    if CONSTRAINTS.exists():
        pip += ["-c", CONSTRAINTS]
    if run(*pip) != 0:
        sys.exit("Installing dependencies failed (see the pip output above).")
    STAMP.write_text(deps_hash() + "\n")


def environment(data_dir: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    if data_dir and not env.get("COMPTOIR_DATA_DIR"):
        env["COMPTOIR_DATA_DIR"] = data_dir
    env["VIRTUAL_ENV"] = str(VENV)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def cmd_start(args: list[str]) -> int:
    ensure_venv()
    env = environment(str(ROOT / "var"))
    env.setdefault("COMPTOIR_EMAIL_BACKEND", "console")  # the demo's mail is printed, not sent
    Path(env["COMPTOIR_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    say(f"Preparing the demo (data in {env['COMPTOIR_DATA_DIR']})…")
    if run(BIN / "comptoir", "demo", env=env) != 0:
        return 1
    say("Starting the server (Ctrl+C to stop)…")
    serve = [str(BIN / "comptoir"), "serve", *args]
    os.execve(serve[0], serve, env)  # noqa: S606


def cmd_test(args: list[str]) -> int:
    ensure_venv()
    tmp = None if os.environ.get("COMPTOIR_DATA_DIR") else tempfile.mkdtemp(prefix="comptoir-")
    try:
        say("Running the tests…")
        code = run(PYTHON, "-m", "pytest", *args, env=environment(tmp))
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    if code == 5:
        print("No tests were collected: treating this as a failure.", file=sys.stderr)
        return 1
    return code


def cmd_lint(args: list[str]) -> int:
    ensure_venv()
    checks = {
        "ruff check": [BIN / "ruff", "check", *args],
        "ruff format --check": [BIN / "ruff", "format", "--check", *args],
        "lint-imports": [BIN / "lint-imports"],
        "mypy": [BIN / "mypy"],
        "migrations are up to date": [BIN / "comptoir", "makemigrations", "--check", "--dry-run"],
        "OpenAPI document is up to date": [BIN / "comptoir", "openapi", "--check"],
    }
    failed = []
    scratch = tempfile.mkdtemp(prefix="comptoir-lint-")
    for name, command in checks.items():
        say(f"{name}…")
        if run(*command, env=environment(scratch)) != 0:
            failed.append(name)
    shutil.rmtree(scratch, ignore_errors=True)
    if failed:
        print(f"Lint failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    say("Lint passed.")
    return 0


def project_name(line: str) -> str:
    """Normalized project name of a `pip freeze` line ("" for blanks and comments)."""
    name = re.split(r"[\s=<>!~@\[;#]", line.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name.lower())


def cmd_lock(args: list[str]) -> int:
    if not PYTHON.exists():
        sys.exit("No .venv yet: run `python3 dev.py test` first.")
    was_current = stamp_is_current()
    say("Writing constraints.txt from .venv…")
    freeze = [str(PYTHON), "-m", "pip", "freeze", "--exclude-editable"]
    out = subprocess.run(freeze, cwd=ROOT, check=True, capture_output=True, text=True)  # noqa: S603
    lines = out.stdout.splitlines()
    pins = [p.strip() for p in lines if project_name(p) not in LOCK_EXCLUDE | {""}]
    pins.sort(key=project_name)
    CONSTRAINTS.write_text(LOCK_HEADER + "\n".join(pins) + "\n")
    if was_current:  # .venv is exactly what was just locked: no reinstall needed
        STAMP.write_text(deps_hash() + "\n")
    say(f"{len(pins)} packages pinned.")
    return 0


COMMANDS = {"start": cmd_start, "test": cmd_test, "lint": cmd_lint, "lock": cmd_lock}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        return COMMANDS[argv[0]](argv[1:])
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
