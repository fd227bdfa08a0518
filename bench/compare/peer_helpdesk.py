"""django-helpdesk, set up by the harness: its own virtualenv, a minimal project, data, a server.

Nothing of it is committed: the virtualenv is made in ``bench/results/helpdesk-venv`` (pinned
versions below), the project's files are written at run time into the data folder, and
the data is made by django-helpdesk's own models inside that project.

Driver side (any Python 3.11, standard library only): ``ensure_venv``, ``dataset``,
``Server``. Django side (run with the helpdesk virtualenv's Python, ``--django NAME``):
``dj_generate`` and ``dj_sample``.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/, for ``common``

import common  # noqa: E402
from common import say  # noqa: E402

THIS = Path(__file__).resolve()
VENV = common.RESULTS / "helpdesk-venv"
PYTHON = VENV / "bin" / "python"
#: The release measured (the newest on PyPI that runs on Python 3.11 and Django 5.2) and the
#: server stack pinned to Comptoir's own versions, so that only the application differs.
HELPDESK_VERSION = "2.6.1"
PINS = [
    f"django-helpdesk=={HELPDESK_VERSION}",
    "gunicorn==27.0.1",
    "psycopg[binary]==3.3.9",
    "redis==8.1.0",  # Django's Redis cache backend, as Comptoir's with REDIS_URL
]
GENERATOR_VERSION = 1
SEED = 20240611
PASSWORD = "bench-password-1"  # noqa: S105 - a throwaway account on a loopback server

SETTINGS = '''"""Settings of the django-helpdesk project the comparison serves (written at run time)."""
import json, os
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONF = json.loads(os.environ["HDBENCH_CONF"])
SECRET_KEY = "hdbench-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
SITE_ID = 1
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.sites",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "helpdesk",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "hdbench.urls"
WSGI_APPLICATION = "hdbench.wsgi.application"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
DATABASES = {"default": CONF["database"]}
CACHES = CONF["caches"]
SESSION_ENGINE = CONF["session_engine"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"
STATIC_URL = "static/"
STATIC_ROOT = HERE.parent / "static"
MEDIA_ROOT = HERE.parent / "media"
LOGIN_URL = "helpdesk:login"
LOGIN_REDIRECT_URL = "helpdesk:list"
# No mail leaves the machine (Comptoir queues its notifications in an outbox for a worker).
EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
DEFAULT_FROM_EMAIL = "helpdesk@bench.test"
HELPDESK_TEAMS_MODE_ENABLED = False  # teams need pinax-teams, not installed
HELPDESK_KB_ENABLED = True
LOGGING = {"version": 1, "disable_existing_loggers": False,
           "root": {"handlers": [], "level": "WARNING"}}
'''

URLS = """from django.urls import include, path
from django.http import HttpResponse

def healthz(request):
    return HttpResponse("ok", content_type="text/plain")

urlpatterns = [path("healthz", healthz), path("", include("helpdesk.urls"))]
"""

WSGI = """import os
from django.core.wsgi import get_wsgi_application
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hdbench.settings")
application = get_wsgi_application()
"""

GUNICORN_CONF = """# The same Gunicorn settings as ``comptoir serve`` (core/management/commands/serve.py).
worker_class = "gthread"
timeout = 60
graceful_timeout = 20
keepalive = 130
loglevel = "warning"
errorlog = "-"
"""

SQLITE_OPTIONS = {
    # The options Comptoir gives SQLite (config/settings.py), so that both run on the same engine.
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": "".join(common.SQLITE_PRAGMAS),
}


# --- driver side -----------------------------------------------------------------------------


def ensure_venv() -> dict[str, str]:
    """The helpdesk virtualenv with the pinned versions (made once, then reused)."""
    marker = VENV / "bench-pins.json"
    if marker.exists() and json.loads(marker.read_text()).get("pins") == PINS and PYTHON.exists():
        return json.loads(marker.read_text())["versions"]
    say(f"Making the django-helpdesk virtualenv in {VENV.relative_to(common.ROOT)}")
    if VENV.exists():
        shutil.rmtree(VENV)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run(
        [str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *PINS],
        check=True,
    )
    code = (
        "import json, sys\nfrom importlib.metadata import version\n"
        "print(json.dumps({'python': sys.version.split()[0], 'django-helpdesk': "
        "version('django-helpdesk'), 'django': version('django'), 'gunicorn': "
        "version('gunicorn'), 'djangorestframework': version('djangorestframework')}))"
    )
    versions = json.loads(
        subprocess.run([str(PYTHON), "-c", code], check=True, capture_output=True, text=True).stdout
    )
    marker.write_text(json.dumps({"pins": PINS, "versions": versions}))
    return versions


class Project:
    """The project's folder (settings, urls, wsgi) and its database, for one engine."""

    def __init__(self, engine: str, tickets: int, redis_url: str | None, pg_name: str):
        self.engine = engine
        self.folder = common.RESULTS / "data" / f"compare-helpdesk-{engine}-{tickets}"
        self.tickets = tickets
        self.redis_url = redis_url
        self.pg_name = pg_name

    def conf(self) -> dict[str, Any]:
        if self.engine == "sqlite":
            database = {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(self.folder / "helpdesk.sqlite3"),
                "CONN_MAX_AGE": 600,
                "OPTIONS": SQLITE_OPTIONS,
            }
        else:
            parts = common.pg_parts(f"{common.PG_BASE_URL}/{self.pg_name}")
            database = {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": parts["dbname"],
                "USER": parts["user"],
                "HOST": parts["host"],
                "PORT": parts["port"],
                "CONN_MAX_AGE": 60,
                "CONN_HEALTH_CHECKS": True,
            }
        if self.redis_url:  # as Comptoir with REDIS_URL: the cache in Redis, sessions cached
            caches = {
                "default": {
                    "BACKEND": "django.core.cache.backends.redis.RedisCache",
                    "LOCATION": self.redis_url,
                    "KEY_PREFIX": "hdbench",
                }
            }
            session_engine = "django.contrib.sessions.backends.cached_db"
        else:
            caches = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
            session_engine = "django.contrib.sessions.backends.db"
        return {"database": database, "caches": caches, "session_engine": session_engine}

    def write(self) -> None:
        package = self.folder / "project" / "hdbench"
        package.mkdir(parents=True, exist_ok=True)
        for name, text in (
            ("__init__.py", ""),
            ("settings.py", SETTINGS),
            ("urls.py", URLS),
            ("wsgi.py", WSGI),
            ("gunicorn.conf.py", GUNICORN_CONF),
        ):
            (package / name).write_text(text)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPTOIR_", "DJANGO_"))}
        env.pop("DATABASE_URL", None)
        env.update(
            DJANGO_SETTINGS_MODULE="hdbench.settings",
            HDBENCH_CONF=json.dumps(self.conf()),
            PYTHONPATH=f"{self.folder / 'project'}{os.pathsep}{common.BENCH}",
            PYTHONUNBUFFERED="1",
        )
        return env

    def call(self, function: str, **kwargs: Any) -> Any:
        proc = subprocess.run(
            [str(PYTHON), str(THIS), "--django", function, json.dumps(kwargs)],
            env=self.env(),
            cwd=str(common.ROOT),
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
            raise SystemExit(f"helpdesk --django {function} failed ({proc.returncode})")
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        for line in lines[:-1]:
            print(f"   {line}")
        return json.loads(lines[-1])


def dataset(
    engine: str, tickets: int, agents: int, redis_url: str | None, pg_name: str, fresh: bool
):
    """The project with ``tickets`` tickets (made once, then reused); its description."""
    project = Project(engine, tickets, redis_url, pg_name)
    marker = project.folder / "dataset.json"
    want = {
        "tickets": tickets,
        "agents": agents,
        "seed": SEED,
        "generator": GENERATOR_VERSION,
        "helpdesk": HELPDESK_VERSION,
        "pg_name": pg_name if engine == "postgres" else None,
    }
    if not fresh and marker.exists():
        have = json.loads(marker.read_text())
        if {k: have.get(k) for k in want} == want and (
            engine == "sqlite" or common.pg_database_exists(pg_name)
        ):
            project.write()
            say(
                f"Reusing django-helpdesk's {tickets:,} tickets in {project.folder.relative_to(common.ROOT)}"
            )
            return project, have
    if project.folder.exists():
        shutil.rmtree(project.folder)
    project.write()
    if engine == "postgres":
        common.pg_admin("dropdb", "--if-exists", pg_name)
        common.pg_admin("createdb", pg_name)
    say(
        f"Generating {tickets:,} django-helpdesk tickets into {project.folder.relative_to(common.ROOT)}"
    )
    made = project.call("generate", tickets=tickets, agents=agents)
    marker.write_text(json.dumps({**want, **made}, indent=2))
    return project, {**want, **made}


class Server(common.Server):
    """django-helpdesk under Gunicorn with ``comptoir serve``'s settings (gthread, same counts)."""

    def __init__(self, project: Project, *, workers: int, threads: int):
        self.project = project
        self.workers, self.threads = workers, threads
        self.port = common.free_port()
        self.host = "127.0.0.1"
        self.extra_env: dict[str, str] = {}
        self.proc = None
        self.log_path = project.folder / f"serve-{self.port}.log"
        self.target = None  # type: ignore[assignment]

    @property
    def command(self) -> list[str]:
        return [
            str(VENV / "bin" / "gunicorn"),
            "--config",
            str(self.project.folder / "project" / "hdbench" / "gunicorn.conf.py"),
            "--bind",
            f"{self.host}:{self.port}",
            "--workers",
            str(self.workers),
            "--threads",
            str(self.threads),
            "hdbench.wsgi:application",
        ]

    label = "django-helpdesk's server"

    def process_env(self) -> dict[str, str]:
        return self.project.env()

    def process_cwd(self) -> str:
        return str(self.project.folder / "project")


# --- Django side (the helpdesk virtualenv) ---------------------------------------------------

HD_STATUS = {"open": 1, "reopened": 2, "resolved": 3, "closed": 4}


def dj_generate(tickets: int, agents: int, batch: int = 5000) -> dict[str, Any]:
    """Queues IT and HR, ``agents`` staff users, ``tickets`` tickets with the Comptoir data's texts.

    The same distributions as ``bench/list_tickets.py`` (desk 70/30, priorities 3/12/50/27/8 %,
    recent tickets mostly open, two years of ``created``), written with ``bulk_create``.
    """
    import list_tickets as source
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone
    from helpdesk.models import Queue, Ticket

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    rng = random.Random(SEED)
    queues = {
        "it": Queue.objects.create(title="IT", slug="it", allow_public_submission=False),
        "hr": Queue.objects.create(title="HR", slug="hr", allow_public_submission=False),
    }
    User = get_user_model()
    hashed = make_password(PASSWORD)  # one hash for all: signing in still checks it in full
    staff = []
    for i in range(agents):
        user = User.objects.create_user(
            f"agent{i:03d}", f"agent{i:03d}@bench.test", None, is_staff=True
        )  # its post_save signal makes its helpdesk settings
        staff.append(user)
    User.objects.filter(pk__in=[u.pk for u in staff]).update(password=hashed)
    requesters = [f"person{i:04d}@bench.test" for i in range(1000)]

    # The texts of Comptoir's data, so both render the same words.
    descriptions = [
        d.format(thing=thing, code=rng.randint(100, 999))
        for d in source.DESCRIPTIONS
        for thing in source.THINGS
    ]
    # ``created``/``modified`` are auto fields: keep the generated dates for the bulk insert.
    Ticket._meta.get_field("created").auto_now_add = False
    Ticket._meta.get_field("modified").auto_now = False
    now = timezone.now()
    span = timedelta(days=730)
    created = sorted(now - span * rng.random() for _ in range(tickets))
    counts = {"open": 0, "reopened": 0, "resolved": 0, "closed": 0}
    total = 0
    with transaction.atomic():
        for start in range(0, tickets, batch):
            rows = []
            for at in created[start : start + batch]:
                slug = "it" if rng.random() < 0.7 else "hr"
                age = (now - at).total_seconds() / 86400
                category = rng.choices(
                    ["open", "pending", "resolved", "closed"], source._category_weights(age)
                )[0]
                state = {"pending": "reopened"}.get(category, category)
                live = category in ("open", "pending")
                assigned = rng.random() < (0.75 if live else 0.95)
                updated = min(now, at + timedelta(hours=rng.uniform(0, 24 * min(age, 30))))
                rows.append(
                    Ticket(
                        title=rng.choice(source.TITLES),
                        queue=queues[slug],
                        created=at,
                        modified=updated,
                        submitter_email=rng.choice(requesters),
                        assigned_to=rng.choice(staff) if assigned else None,
                        status=HD_STATUS[state],
                        description=rng.choice(descriptions),
                        resolution="Fixed; see the notes." if not live else "",
                        priority=rng.choices([1, 2, 3, 4, 5], source.PRIORITY_WEIGHTS)[0],
                    )
                )
                counts[state] += 1
            Ticket.objects.bulk_create(rows)
            total += len(rows)
            print(f"{total} tickets", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {
        "tickets": total,
        "by_status": counts,
        "queues": {slug: q.pk for slug, q in queues.items()},
        "seconds": round(time.perf_counter() - started, 1),
    }


def dj_sample(agents: int, per_session: int) -> dict[str, Any]:
    """What the load generator needs: each agent's name and open tickets of the IT queue to work on."""
    from helpdesk.models import Queue, Ticket

    it = Queue.objects.get(slug="it")
    found = list(
        Ticket.objects.filter(queue=it, status__in=[1, 2])
        .order_by("-created")
        .values("id", "title", "priority", "status", "assigned_to_id")[: agents * per_session]
    )
    sessions = []
    for i in range(agents):
        mine = found[i::agents][:per_session] or found[:per_session]
        sessions.append(
            {
                "username": f"agent{i:03d}",
                "password": PASSWORD,
                "tickets": [
                    {
                        "id": t["id"],
                        "title": t["title"],
                        "priority": t["priority"],
                        "status": t["status"],
                        "owner": t["assigned_to_id"] or 0,
                        "queue": it.pk,
                    }
                    for t in mine
                ],
            }
        )
    return {"agents": sessions, "queue": it.pk}


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--django":
        import django

        django.setup()
        kwargs = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
        answer = {"generate": dj_generate, "sample": dj_sample}[sys.argv[2]](**kwargs)
        sys.stdout.write(json.dumps(answer, default=str) + "\n")
