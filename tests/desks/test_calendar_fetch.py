"""Holidays imported from an iCalendar URL: a real HTTP server, and addresses that are refused."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from comptoir.core.actor import Actor
from comptoir.core.errors import DomainError
from comptoir.desks.calendars import import_ical_url
from comptoir.desks.models import BusinessCalendar

ICS = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
    b"BEGIN:VEVENT\r\nUID:1\r\nDTSTART;VALUE=DATE:20271101\r\nDTEND;VALUE=DATE:20271102\r\n"
    b"SUMMARY:Toussaint\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the http.server API)
        if self.path == "/holidays.ics":
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar")
            self.end_headers()
            self.wfile.write(ICS)
        elif self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def calendar(db):
    return BusinessCalendar.objects.create(
        name="Shop",
        time_zone="Europe/Paris",
        openings=[{"weekday": 0, "start": "09:00", "end": "17:00"}],
    )


def test_holidays_come_from_an_allowed_url(calendar, server, settings):
    settings.COMPTOIR_FETCH_PRIVATE_URLS = True
    added = import_ical_url(actor=Actor.system(), calendar=calendar, url=f"{server}/holidays.ics")
    assert added == 1
    assert list(calendar.holidays.values_list("name", flat=True)) == ["Toussaint"]


def test_an_address_inside_the_network_is_refused(calendar, server):
    with pytest.raises(DomainError, match="private address"):
        import_ical_url(actor=Actor.system(), calendar=calendar, url=f"{server}/holidays.ics")
    assert not calendar.holidays.exists()


def test_a_redirect_is_not_followed(calendar, server, settings):
    settings.COMPTOIR_FETCH_PRIVATE_URLS = True
    with pytest.raises(DomainError, match="redirects"):
        import_ical_url(actor=Actor.system(), calendar=calendar, url=f"{server}/moved")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/h.ics", "gopher://x"])
def test_only_web_addresses_are_fetched(calendar, url):
    with pytest.raises(DomainError, match="http"):
        import_ical_url(actor=Actor.system(), calendar=calendar, url=url)


def test_an_agent_cannot_make_the_server_fetch(calendar, server, world, settings):
    from comptoir.core.errors import PermissionDenied

    settings.COMPTOIR_FETCH_PRIVATE_URLS = True
    with pytest.raises(PermissionDenied):
        import_ical_url(
            actor=Actor.for_user(world.agent), calendar=calendar, url=f"{server}/holidays.ics"
        )
