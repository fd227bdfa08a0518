#!/usr/bin/env python3
"""Developer entry point for Comptoir (standard library only).

Usage: python3 dev.py COMMAND [ARGS...]

  start [serve args]   set up .venv, migrate and load demo data, run the server
  test [pytest args]   set up .venv, run the test suite
  lint                 ruff, lint-imports, migrations and OpenAPI up to date
  lock                 regenerate constraints.txt from .venv
  screenshots          PNGs of the main pages from the demo data, into docs/screenshots/
"""

import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
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


SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cmd_screenshots(args: list[str]) -> int:
    """Load the demo into a throwaway data folder, serve it, and photograph the main pages."""
    ensure_venv()
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing (on Debian/Ubuntu: apt install chromium).")
    data = tempfile.mkdtemp(prefix="comptoir-screenshots-")
    env = environment(data)
    env["COMPTOIR_DATA_DIR"] = data  # never the developer's own data
    for name in ("DATABASE_URL", "REDIS_URL"):
        env.pop(name, None)
    env["COMPTOIR_EMAIL_BACKEND"] = "console"
    server = None
    try:
        say(f"Loading the demo data into {data}…")
        if run(BIN / "comptoir", "demo", env=env) != 0:
            return 1
        port = free_port()
        say(f"Serving it on port {port}…")
        server = subprocess.Popen(  # noqa: S603
            [str(BIN / "comptoir"), "serve", "--port", str(port), "--workers", "1", "--no-worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2):  # noqa: S310
                    break
            except OSError:
                time.sleep(0.5)
        else:
            sys.exit("The server did not start.")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return run(PYTHON, Path(__file__).resolve(), "_shoot", base, env=env)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)


def cmd_shoot(args: list[str]) -> int:
    """Inside .venv: drive Chromium over the served demo and write the PNGs."""
    from playwright.sync_api import sync_playwright

    base = args[0]
    agent, requester, password = "agent@comptoir.example", "alice@comptoir.example", "comptoir-demo"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            options = {"base_url": base, "viewport": viewport, "locale": "en-GB"}
            if size == "phone":
                options.update(is_mobile=True, has_touch=True, device_scale_factor=1)

            def shot(page, name: str, size: str = size) -> None:
                path = SCREENSHOTS / f"{name}-{size}.png"
                page.screenshot(path=str(path))
                say(f"{path.relative_to(ROOT)} ({path.stat().st_size // 1024} KB)")

            def signed_in(email: str, options: dict = options):
                context = browser.new_context(**options)
                page = context.new_page()
                page.goto("/login/")
                page.locator("#id_username").fill(email)
                page.locator("#id_password").fill(password)
                page.locator("form button[type=submit]").click()
                page.wait_for_load_state()
                return context, page

            context = browser.new_context(**options)
            page = context.new_page()
            page.goto("/login/")
            shot(page, "sign-in")
            context.close()

            context, page = signed_in(agent)
            page.goto("/desk/?queue=open")
            shot(page, "workspace-queue")
            page.locator("#ticket-list a[href^='/desk/t/']").first.click()
            page.wait_for_load_state()
            shot(page, "ticket")
            context.close()

            context, page = signed_in(requester)
            page.goto("/portal/")
            shot(page, "portal-list")
            page.goto("/portal/new/")
            shot(page, "portal-new-request")
            context.close()
        browser.close()
    return 0


COMMANDS = {
    "start": cmd_start,
    "test": cmd_test,
    "lint": cmd_lint,
    "lock": cmd_lock,
    "screenshots": cmd_screenshots,
    "_shoot": cmd_shoot,
}


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
