"""JSON log lines and request ids: every line parses, whatever a message or a caller sends, and
each record written while a request is served says which request it was."""

from __future__ import annotations

import io
import json
import logging
import subprocess

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import path

from comptoir.core.logs import JsonFormatter, RequestContextFilter
from tests.conftest import ApiClient
from tests.processes import COMPTOIR, comptoir_env


def boom(request):
    raise ZeroDivisionError("the view divides by zero")


def quiet(request):
    logging.getLogger("comptoir.test").warning('Looked at\r\nline two \u2028 "quoted"')
    return HttpResponse("ok")


urlpatterns = [path("boom", boom), path("quiet", quiet)]


@pytest.fixture
def json_lines():
    """What the console handler writes in JSON mode, captured; parsed lines on demand."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    loggers = [logging.getLogger(name) for name in ("django.request", "comptoir")]
    for logger in loggers:
        logger.addHandler(handler)

    def lines() -> list[dict]:
        text = stream.getvalue()
        return [json.loads(line) for line in text.splitlines()]

    yield lines
    for logger in loggers:
        logger.removeHandler(handler)


def _record(message: str, *args, exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("comptoir.test", logging.ERROR, __file__, 1, message, args, exc_info)


def test_a_record_is_one_line_of_json_with_its_fields():
    line = JsonFormatter().format(_record("Ticket %s on desk %s", "IT-4", "it"))
    entry = json.loads(line)
    assert entry["message"] == "Ticket IT-4 on desk it"
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "comptoir.test"
    assert entry["time"].endswith("+00:00") and "T" in entry["time"]
    assert "\n" not in line


@pytest.mark.parametrize(
    "hostile",
    [
        'He said "hi"\r\n{"level": "CRITICAL"}',
        "line\u2028separator\u2029paragraph\x85next",
        "tab\tnull\x00bell\x07 and a lone surrogate \udcff",
        "x" * 100_000,
    ],
)
def test_no_message_breaks_the_line(hostile):
    line = JsonFormatter().format(_record("%s", hostile))
    assert line.isascii()
    assert line.splitlines() == [line]
    assert json.loads(line)["message"] == hostile


def test_an_exception_comes_with_its_traceback_in_one_field():
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        import sys

        line = JsonFormatter().format(_record("It failed", exc_info=sys.exc_info()))
    entry = json.loads(line)
    assert entry["message"] == "It failed"
    assert entry["exception"].startswith("Traceback (most recent call last):")
    assert "ZeroDivisionError: division by zero" in entry["exception"]
    assert line.count("\n") == 0


def test_a_gunicorn_access_line_carries_the_request_fields():
    atoms = {
        "h": "10.0.0.7",
        "m": "POST",
        "U": "/api/v1/tickets",
        "s": "201",
        "D": 12480,  # microseconds
        "r": 'POST /api/v1/tickets?x="1"\r\n HTTP/1.1',
        "{comptoir.request_id}e": "trace-9",
        "{comptoir.user_id}e": "42",
    }
    record = logging.LogRecord(
        "gunicorn.access", logging.INFO, __file__, 1, '%(h)s "%(r)s" %(s)s', (atoms,), None
    )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == '10.0.0.7 "POST /api/v1/tickets?x="1"\r\n HTTP/1.1" 201'
    assert entry["method"] == "POST"
    assert entry["path"] == "/api/v1/tickets"
    assert entry["status"] == 201
    assert entry["duration_ms"] == 12.48
    assert entry["request_id"] == "trace-9"
    assert entry["user_id"] == 42
    assert entry["remote_addr"] == "10.0.0.7"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("4bf92f3577b34da6a3ce929d0e0e4736", True),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8", True),
        ("a" * 128, True),
        ("a" * 129, False),
        ("abc\r\nX-Injected: 1", False),
        ('abc"def', False),
        ("abc def", False),
        ("", False),
        ("-starts-with-a-dash", False),
    ],
)
def test_a_well_formed_request_id_is_kept_and_any_other_replaced(client, given, kept):
    response = client.get("/healthz", headers={"X-Request-ID": given})
    answered = response["X-Request-ID"]
    if kept:
        assert answered == given
    else:
        assert answered != given
        assert len(answered) == 32 and all(c in "0123456789abcdef" for c in answered)


@pytest.mark.django_db
def test_each_request_gets_an_id_of_its_own(client):
    ids = {client.get("/healthz")["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3


@pytest.mark.django_db
@pytest.mark.urls("tests.core.test_logging")
def test_records_written_during_a_request_carry_its_id_method_and_path(json_lines):
    client = Client()
    client.get("/quiet", headers={"X-Request-ID": "trace-7"})
    logging.getLogger("comptoir.test").warning("After the request")
    entries = json_lines()
    during = next(e for e in entries if e["message"].startswith("Looked at"))
    assert during["message"] == 'Looked at\r\nline two \u2028 "quoted"'
    assert during["request_id"] == "trace-7"
    assert during["method"] == "GET"
    assert during["path"] == "/quiet"
    after = next(e for e in entries if e["message"] == "After the request")
    assert "request_id" not in after and "path" not in after


@pytest.mark.django_db
@pytest.mark.urls("tests.core.test_logging")
def test_a_server_error_is_one_line_with_the_traceback_and_the_request(json_lines):
    client = Client(raise_request_exception=False)
    response = client.get("/boom", headers={"X-Request-ID": "boom-1"})
    assert response.status_code == 500
    assert response["X-Request-ID"] == "boom-1"
    error = next(e for e in json_lines() if e["logger"] == "django.request")
    assert error["level"] == "ERROR"
    assert error["status"] == 500
    assert error["request_id"] == "boom-1"
    assert error["path"] == "/boom"
    assert "ZeroDivisionError: the view divides by zero" in error["exception"]


@pytest.mark.django_db
def test_the_user_id_is_on_the_records_of_a_signed_in_request(world, json_lines):
    client = Client()
    client.force_login(world.agent)
    client.get("/desk/no-such-page/")
    api = ApiClient(world.manager)
    api.get("tickets/NOPE-404")
    not_found = [e for e in json_lines() if e["logger"] == "django.request"]
    assert [e["status"] for e in not_found] == [404, 404]
    assert not_found[0]["user_id"] == world.agent.pk
    assert not_found[1]["user_id"] == world.manager.pk


@pytest.mark.django_db
def test_an_anonymous_request_has_no_user_id(client, json_lines):
    client.get("/no-such-page/")
    entry = next(e for e in json_lines() if e["logger"] == "django.request")
    assert "user_id" not in entry


PRINT_SOME_LOGS = """
import logging
logging.getLogger("comptoir.anything").warning("from Comptoir")
logging.getLogger("huey").error("from the queue")
logging.getLogger("django").error("from Django")
"""


def test_json_mode_writes_every_log_as_json_and_text_mode_stays_text(tmp_path):
    def logs(log_format: str) -> list[str]:
        env = {**comptoir_env(tmp_path), "COMPTOIR_LOG_FORMAT": log_format}
        done = subprocess.run(
            [str(COMPTOIR), "shell", "-c", PRINT_SOME_LOGS],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stderr.splitlines()

    entries = [json.loads(line) for line in logs("json")]
    assert [(e["logger"], e["message"]) for e in entries] == [
        ("comptoir.anything", "from Comptoir"),
        ("huey", "from the queue"),
        ("django", "from Django"),
    ]
    text = logs("text")
    assert len(text) == 3
    assert text[0].endswith("WARNING comptoir.anything from Comptoir")


def test_an_unknown_log_format_stops_the_start_with_a_clear_error(tmp_path):
    env = {**comptoir_env(tmp_path), "COMPTOIR_LOG_FORMAT": "xml"}
    done = subprocess.run(
        [str(COMPTOIR), "check"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "COMPTOIR_LOG_FORMAT must be text or json." in done.stderr
