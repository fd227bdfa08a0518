"""The site's icon: named by every page, and served at ``/favicon.ico`` for those that don't."""

from __future__ import annotations

import logging
from xml.etree import ElementTree

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

ICON = "/static/comptoir/favicon.svg"


def test_favicon_ico_leads_to_the_icon_without_a_404_in_the_log(caplog, django_assert_num_queries):
    client = Client()
    # No query: it answers while the database is down, as the outage page names it too.
    with caplog.at_level(logging.WARNING, logger="django.request"), django_assert_num_queries(0):
        response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == ICON
    assert "max-age=86400" in response["Cache-Control"]
    assert not [r for r in caplog.records if "favicon" in r.getMessage()]

    icon = client.get(ICON)
    assert icon.status_code == 200
    assert icon["Content-Type"].startswith("image/svg+xml")
    body = b"".join(icon.streaming_content) if icon.streaming else icon.content
    root = ElementTree.fromstring(body)  # noqa: S314 (the project's own file)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"


@pytest.mark.parametrize("path", ["/", "/login/"])
def test_pages_name_the_icon(path):
    page = Client().get(path).content.decode()
    assert f'<link rel="icon" href="{ICON}" type="image/svg+xml">' in page


def test_the_outage_page_names_the_icon():
    from django.db import OperationalError
    from django.test import RequestFactory

    from comptoir.core.outage import unavailable_response

    request = RequestFactory().get("/desk/", HTTP_ACCEPT="text/html")
    response = unavailable_response(request, OperationalError("connection refused"))
    assert response.status_code == 503
    assert f'href="{ICON}"' in response.content.decode()


def test_favicon_takes_only_get():
    assert Client().post("/favicon.ico").status_code == 405
