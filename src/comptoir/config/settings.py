"""Settings, read from the environment.

With nothing set, Comptoir runs on SQLite in its data folder and keeps a generated secret key
there. Every variable is listed in the README's configuration table.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in (env(name, default) or "").split(",") if item.strip()]


DATA_DIR = Path(
    env("COMPTOIR_DATA_DIR")
    or Path(env("XDG_DATA_HOME") or Path.home() / ".local/share") / "comptoir"
).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    given = env("COMPTOIR_SECRET_KEY")
    if given:
        return given
    path = DATA_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(50)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


SECRET_KEY = _secret_key()
DEBUG = env_bool("COMPTOIR_DEBUG", False)
ALLOWED_HOSTS = env_list("COMPTOIR_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("COMPTOIR_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "huey.contrib.djhuey",
    "ninja",  # serves the API reference with its own vendored Swagger UI, no CDN
    "comptoir.core",
    "comptoir.accounts",
    "comptoir.desks",
    "comptoir.tickets",
    "comptoir.notifications",
    "comptoir.sla",
    "comptoir.routing",
    "comptoir.mail",
    "comptoir.kb",
    "comptoir.search",
    "comptoir.portal",
    "comptoir.workspace",
    "comptoir.demo",
]

MIDDLEWARE = [
    "comptoir.core.logs.RequestIdMiddleware",  # X-Request-ID, on the response and every log line
    "comptoir.core.metrics.middleware.RequestMetricsMiddleware",  # requests and latency, by route
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "comptoir.core.outage.OutageMiddleware",  # database unreachable: 503, retry in a moment
    "comptoir.core.web.WebPageMiddleware",  # the person's language and time zone; the CSP
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "comptoir.core.middleware.ApiErrorShapeMiddleware",
    "comptoir.core.idempotency.IdempotencyMiddleware",
]

ROOT_URLCONF = "comptoir.config.urls"
WSGI_APPLICATION = "comptoir.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "comptoir.portal.context.ui",
            ],
        },
    },
]
# Select boxes written out in Python (the same HTML as Django's templates, a fraction of the time).
FORM_RENDERER = "comptoir.core.forms_renderer.Renderer"

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'comptoir.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A database that does not answer fails the request (503) and /readyz after this many
    # seconds, instead of holding the worker until the operating system gives up (minutes).
    # The health check at each request's start drops a connection that broke meanwhile.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault(
        "connect_timeout", int(env("COMPTOIR_DB_CONNECT_TIMEOUT") or 5)
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Many readers and one writer at a time: WAL lets readers go on while a write commits, and
    # IMMEDIATE transactions take the write lock up front, so two writers queue on the busy
    # timeout instead of failing with "database is locked" half-way through.
    # Each server thread keeps its connection: opening one runs the PRAGMAs below every time.
    # Comptoir's backend queues the writers of every process on a file lock (ADR 15).
    DATABASES["default"]["ENGINE"] = "comptoir.core.sqlite"
    DATABASES["default"]["CONN_MAX_AGE"] = 600
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL;"
            "PRAGMA synchronous=NORMAL;"
            "PRAGMA foreign_keys=ON;"
            "PRAGMA busy_timeout=20000;"
            "PRAGMA cache_size=-64000;"
            "PRAGMA mmap_size=268435456;"
            "PRAGMA temp_store=MEMORY;"
        ),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and sessions -----------------------------------------------------------------------
REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    # A Redis that does not answer fails the cache call after this many seconds (sessions then
    # read the database) rather than holding the request.
    _REDIS_TIMEOUT = float(env("COMPTOIR_REDIS_TIMEOUT") or 5)
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": _REDIS_TIMEOUT, "socket_timeout": _REDIS_TIMEOUT},
        }
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    SESSION_ENGINE = "django.contrib.sessions.backends.db"

# --- Background jobs (Huey) -------------------------------------------------------------------
# One queue per install: in the data folder on SQLite, in Redis when REDIS_URL is set, so any
# number of `comptoir worker` processes on any machine share it. Tasks are queued after commit.
_HUEY_CONSUMER: dict[str, object] = {
    "workers": int(env("COMPTOIR_WORKER_THREADS") or 2),
    "worker_type": "thread",
    "periodic": True,
    "check_worker_health": True,
}
_HUEY_COMMON = {
    "name": env("COMPTOIR_QUEUE_NAME", "comptoir"),
    "immediate": env_bool("COMPTOIR_TASKS_IMMEDIATE", False),
    "utc": True,
    "consumer": _HUEY_CONSUMER,
}
if REDIS_URL:
    HUEY = {**_HUEY_COMMON, "huey_class": "huey.RedisHuey", "url": REDIS_URL}
else:
    HUEY = {
        **_HUEY_COMMON,
        "huey_class": "huey.SqliteHuey",
        "filename": str(DATA_DIR / "queue.sqlite3"),
        # A local file is cheap to poll: look every second at most when idle, not every 10 s.
        "consumer": {**_HUEY_CONSUMER, "max_delay": 1.0},
    }
# A job lost with a killed worker or a restarted Redis is made up by the periodic sweeps, from
# the database: work this many seconds old and not done (a ticket not routed, clocks not
# recomputed) is done by the next sweep. A mail claimed by a worker that died is sent again once
# its lease has run out (it must exceed EMAIL_TIMEOUT by far). See docs/deploy/scale-out.md.
COMPTOIR_CATCH_UP_AFTER_SECONDS = int(env("COMPTOIR_CATCH_UP_AFTER_SECONDS") or 60)
COMPTOIR_MAIL_LEASE_SECONDS = int(env("COMPTOIR_MAIL_LEASE_SECONDS") or 600)

# --- Accounts -------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "start"
LOGOUT_REDIRECT_URL = "login"
# Failed sign-ins counted in the cache: past either limit within the window, the form refuses
# to check passwords for that address (or from that IP) until the window has passed.
COMPTOIR_SIGNIN_FAILURES_PER_ADDRESS = int(env("COMPTOIR_SIGNIN_FAILURES_PER_ADDRESS") or 5)
COMPTOIR_SIGNIN_FAILURES_PER_IP = int(env("COMPTOIR_SIGNIN_FAILURES_PER_IP") or 20)
COMPTOIR_SIGNIN_WINDOW_SECONDS = int(env("COMPTOIR_SIGNIN_WINDOW_SECONDS") or 60)
PASSWORD_RESET_TIMEOUT = 60 * 60 * 3  # a reset link works for three hours

# --- Internationalisation ---------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("fr", _("French"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("COMPTOIR_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files ----------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = Path(env("COMPTOIR_MEDIA_DIR") or DATA_DIR / "files")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# --- Mail ---------------------------------------------------------------------------------------
COMPTOIR_MAIL_SPOOL_DIR = Path(env("COMPTOIR_MAIL_SPOOL_DIR") or DATA_DIR / "mail")
COMPTOIR_MAIL_RATE_LIMIT = int(env("COMPTOIR_MAIL_RATE_LIMIT") or 30)  # per sender and hour
COMPTOIR_MAIL_MAX_BYTES = int(env("COMPTOIR_MAIL_MAX_BYTES") or 50 * 1024 * 1024)
# `comptoir smtpd`: a certificate chain and its key (PEM) offer STARTTLS; REQUIRE_TLS refuses
# MAIL FROM before it. The command's --tls-cert, --tls-key and --require-tls override them.
COMPTOIR_SMTPD_TLS_CERT = env("COMPTOIR_SMTPD_TLS_CERT", "")
COMPTOIR_SMTPD_TLS_KEY = env("COMPTOIR_SMTPD_TLS_KEY", "")
COMPTOIR_SMTPD_REQUIRE_TLS = env_bool("COMPTOIR_SMTPD_REQUIRE_TLS", False)
DEFAULT_FROM_EMAIL: str = env("COMPTOIR_DEFAULT_FROM") or "comptoir@localhost"
# The address people open Comptoir at: links in mail start with it.
COMPTOIR_BASE_URL = (env("COMPTOIR_BASE_URL") or "http://127.0.0.1:8000").rstrip("/")
_EMAIL_BACKENDS = {
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",  # printed by the worker
}
EMAIL_BACKEND = _EMAIL_BACKENDS.get(
    env("COMPTOIR_EMAIL_BACKEND", "smtp") or "smtp", env("COMPTOIR_EMAIL_BACKEND") or ""
)
EMAIL_HOST = env("COMPTOIR_EMAIL_HOST", "localhost")
EMAIL_PORT = int(env("COMPTOIR_EMAIL_PORT") or 25)
EMAIL_HOST_USER = env("COMPTOIR_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = env("COMPTOIR_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("COMPTOIR_EMAIL_STARTTLS", False)
EMAIL_USE_SSL = env_bool("COMPTOIR_EMAIL_SSL", False)
EMAIL_TIMEOUT = 30

# Holiday calendars fetched by URL: refuse addresses inside the network unless allowed.
COMPTOIR_FETCH_PRIVATE_URLS = env_bool("COMPTOIR_FETCH_PRIVATE_URLS", False)
COMPTOIR_MAX_ATTACHMENT_SIZE = int(env("COMPTOIR_MAX_ATTACHMENT_SIZE") or 25 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# --- Security ---------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = int(env("COMPTOIR_SESSION_HOURS") or 12) * 3600
SESSION_COOKIE_SECURE = env_bool("COMPTOIR_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_COOKIE_HTTPONLY = True  # the pages' scripts read the token from a meta tag, not the cookie
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if env_bool("COMPTOIR_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Comptoir ---------------------------------------------------------------------------------
COMPTOIR_IDEMPOTENCY_TTL_HOURS = 24
COMPTOIR_API_PAGE_SIZE_MAX = 200
# How long a process keeps its copy of the rows every request reads (tokens, users, roles,
# desks); a change made elsewhere is seen this many seconds later at most (ADR 12). 0: never.
COMPTOIR_CACHE_SECONDS = float(env("COMPTOIR_CACHE_SECONDS", "5") or 5)
# Knowledge base: a published article is due for review this many days after it was last
# vouched for; a suggested article deflected a ticket if none followed within these minutes.
COMPTOIR_KB_REVIEW_DAYS = int(env("COMPTOIR_KB_REVIEW_DAYS") or 180)
COMPTOIR_KB_DEFLECTION_MINUTES = int(env("COMPTOIR_KB_DEFLECTION_MINUTES") or 30)

# --- Metrics and logs (docs/deploy/observability.md) -----------------------------------------
# Each process of a host counts in this folder, which must be on the host's own disk (ADR 13).
COMPTOIR_METRICS_DIR = Path(env("COMPTOIR_METRICS_DIR") or DATA_DIR / "metrics")
COMPTOIR_METRICS_DIR.mkdir(parents=True, exist_ok=True)
# The Prometheus client reads this once, when first imported: set here, before anything can.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(COMPTOIR_METRICS_DIR)
# /metrics answers a bearer token, or addresses of these networks (loopback when neither is set).
COMPTOIR_METRICS_TOKEN = env("COMPTOIR_METRICS_TOKEN", "") or ""
try:
    COMPTOIR_METRICS_ALLOW = [
        ipaddress.ip_network(item, strict=False) for item in env_list("COMPTOIR_METRICS_ALLOW")
    ]
except ValueError as exc:
    raise ImproperlyConfigured(f"COMPTOIR_METRICS_ALLOW: {exc}") from exc
COMPTOIR_METRICS_CACHE_SECONDS = float(env("COMPTOIR_METRICS_CACHE_SECONDS") or 10)
COMPTOIR_LOG_FORMAT = (env("COMPTOIR_LOG_FORMAT", "text") or "text").strip().lower()
if COMPTOIR_LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured("COMPTOIR_LOG_FORMAT must be text or json.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "comptoir.core.logs.JsonFormatter"},
    },
    "filters": {"request": {"()": "comptoir.core.logs.RequestContextFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if COMPTOIR_LOG_FORMAT == "json" else "plain",
            "filters": ["request"],
        }
    },
    "root": {
        "handlers": ["console"],
        "level": (env("COMPTOIR_LOG_LEVEL", "INFO") or "INFO").upper(),
    },
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # The queue says "executing …" for every job: only its warnings and errors by default
        # (`comptoir worker --verbose` shows every job).
        "huey": {"level": "WARNING", "handlers": ["console"], "propagate": False},
    },
}
