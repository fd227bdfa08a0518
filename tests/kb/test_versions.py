"""Every edit is a version; any version can be read, compared and restored; languages are
versions of their own; and what a writer types comes out harmless."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from comptoir.core.actor import Actor
from comptoir.core.errors import DomainError
from comptoir.kb import selectors, services
from comptoir.kb.models import ArticleVersion
from tests.api.helpers import FORBIDDEN, error, expect
from tests.kb.factories import make_article, public_article

pytestmark = pytest.mark.django_db


@pytest.fixture
def edited(world):
    """An article edited twice: v1 "Ports", v2 adds a line, v3 renames it."""
    agent = Actor.for_user(world.agent)
    article = make_article(desk=world.desk, title="Ports", body="Port 443 is open.")
    variant = article.variants.get()
    services.edit_variant(
        actor=agent, variant=variant, body="Port 443 is open.\nPort 22 is closed.", note="SSH"
    )
    services.edit_variant(actor=Actor.for_user(world.manager), variant=variant, title="Firewall")
    variant.refresh_from_db()
    return article, variant


def test_each_edit_adds_a_version_and_renders_the_body(world, edited):
    article, variant = edited
    assert variant.version == 3 and variant.title == "Firewall" and variant.slug == "firewall"
    assert variant.body_html == "<p>Port 443 is open.<br>\nPort 22 is closed.</p>\n"
    versions = list(variant.versions.order_by("number").values_list("number", "title", "note"))
    assert versions == [(1, "Ports", ""), (2, "Ports", "SSH"), (3, "Firewall", "")]
    assert variant.versions.get(number=3).author == world.manager


def test_saving_the_same_text_adds_no_version(world, edited, announced):
    _, variant = edited
    services.edit_variant(
        actor=Actor.for_user(world.agent), variant=variant, title="Firewall", body=variant.body
    )
    variant.refresh_from_db()
    assert variant.version == 3 and variant.versions.count() == 3
    assert announced == []


def test_restoring_copies_an_old_version_into_a_new_one(world, edited, announced):
    article, variant = edited
    restored = services.restore_version(
        actor=Actor.for_user(world.agent), variant=variant, number=1
    )
    variant.refresh_from_db()
    assert (restored.number, restored.restored_from) == (4, 1)
    assert (variant.version, variant.title, variant.body) == (4, "Ports", "Port 443 is open.")
    assert restored.note == "Restored version 1."
    assert variant.versions.count() == 4  # nothing of the history is lost
    assert announced[-1].article_id == article.pk


def test_restoring_a_version_that_does_not_exist_is_not_found(world, edited):
    _, variant = edited
    with pytest.raises(DomainError) as refused:
        services.restore_version(actor=Actor.for_user(world.agent), variant=variant, number=9)
    assert refused.value.code == "not_found"
    assert variant.versions.count() == 3


def test_the_api_lists_reads_diffs_and_restores_versions(world, edited, kb_api):
    article, _ = edited
    client = kb_api(world.agent)
    base = f"kb/articles/{article.pk}/variants/en"
    listed = expect(client.get(f"{base}/versions"), 200)
    assert [v["number"] for v in listed] == [3, 2, 1]
    assert listed[0]["author"]["email"] == world.manager.email and "body" not in listed[0]
    assert [v["number"] for v in expect(client.get(f"{base}/versions", {"before": 3}), 200)] == [
        2,
        1,
    ]
    one = expect(client.get(f"{base}/versions/2"), 200)
    assert one["body"] == "Port 443 is open.\nPort 22 is closed." and one["note"] == "SSH"

    diff = expect(client.get(f"{base}/diff", {"old": 1, "new": 3}), 200)
    assert diff["lines"] == [
        "--- version 1",
        "+++ version 3",
        "@@ -1,3 +1,4 @@",
        "-# Ports",
        "+# Firewall",
        " ",
        " Port 443 is open.",
        "+Port 22 is closed.",
    ]
    latest = expect(client.get(f"{base}/diff", {"old": 2}), 200)
    assert latest["new"] == 3 and "+# Firewall" in latest["lines"]

    restored = expect(client.post(f"{base}/versions/1/restore", {"note": "Back to basics"}), 201)
    assert restored["number"] == 4 and restored["restored_from"] == 1
    assert restored["note"] == "Back to basics"
    detail = expect(client.get(f"kb/articles/{article.pk}"), 200)
    assert detail["variants"][0]["version"] == 4 and detail["title"] == "Ports"


def test_readers_do_not_see_the_history(world, kb_api):
    article = public_article(world.desk)
    response = kb_api(world.requester).get(f"kb/articles/{article.pk}/variants/en/versions")
    expect(response, FORBIDDEN)
    response = kb_api(world.requester).get(f"kb/articles/{article.pk}/variants/en/diff?old=1")
    expect(response, FORBIDDEN)


def test_an_unknown_version_or_language_is_refused(world, edited, kb_api):
    article, _ = edited
    client = kb_api(world.agent)
    error(client.get(f"kb/articles/{article.pk}/variants/en/versions/7"), 404, "not_found")
    error(client.get(f"kb/articles/{article.pk}/variants/fr/versions"), 404, "not_found")
    body = error(
        client.get(f"kb/articles/{article.pk}/variants/de/versions"), 422, "validation_error"
    )
    assert body["details"] == {"field": "language", "allowed": ["en", "fr"]}


def test_a_second_language_is_its_own_line_of_versions(world, kb_api, announced):
    article = public_article(world.desk, title="Printers", body="Press *Print*.")
    seen = len(announced)
    client = kb_api(world.agent)
    path = f"kb/articles/{article.pk}/variants/fr"
    created = expect(client.put(path, {"title": "Imprimantes", "body": "Appuyez."}), 201)
    assert created["version"] == 1 and created["slug"] == "imprimantes"
    edited = expect(
        client.put(path, {"title": "Imprimantes", "body": "Appuyez sur *Imprimer*."}), 200
    )
    assert edited["version"] == 2
    assert article.variants.get(language="en").version == 1
    assert len(announced[seen:]) == 2

    detail = expect(client.get(f"kb/articles/{article.pk}", {"language": "fr"}), 200)
    assert detail["title"] == "Imprimantes" and detail["languages"] == ["en", "fr"]


def test_adding_a_language_twice_through_the_service_is_refused(world):
    article = make_article(desk=world.desk)
    with pytest.raises(DomainError) as refused:
        services.add_variant(
            actor=Actor.for_user(world.agent), article=article, language="en", title="Again"
        )
    assert refused.value.details["field"] == "language"


def test_the_variant_shown_falls_back_to_english_then_the_first(world):
    agent = Actor.for_user(world.agent)
    french_only = make_article(desk=world.desk, language="fr", title="Seulement en français")
    assert selectors.variant_for(french_only, "en").language == "fr"
    both = make_article(desk=world.desk, language="fr", title="Bonjour")
    services.add_variant(actor=agent, article=both, language="en", title="Hello")
    assert selectors.variant_for(both, "fr").title == "Bonjour"
    assert selectors.variant_for(both, "de").title == "Hello"
    assert selectors.variant_for(both, None).title == "Hello"


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, {k: v or "" for k, v in attrs}))


def elements(html: str) -> list[tuple[str, dict[str, str]]]:
    """The tags and attributes a browser would build from ``html``."""
    parser = _Elements()
    parser.feed(html)
    return parser.found


def assert_harmless(html: str) -> None:
    for tag, attrs in elements(html):
        assert tag not in {"script", "svg", "iframe", "object", "embed", "style", "form"}, html
        for name, value in attrs.items():
            assert not name.startswith("on"), html
            if name in ("href", "src"):
                assert value.startswith(("https:", "http:", "mailto:", "/")), html
                assert not value.startswith("//"), html
        if tag == "img":
            assert attrs.get("src", "/").startswith("/"), html  # no remote image, no tracking pixel


HOSTILE = [
    ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    ('<img src=x onerror="alert(1)">', "&lt;img src=x onerror="),
    ("[click](javascript:alert(1))", "[click](javascript:alert(1))"),
    ("[click](JaVaScRiPt:alert(1))", "[click](JaVaScRiPt:alert(1))"),
    ('<svg onload="alert(1)"><script>1</script></svg>', "&lt;svg onload="),
    ("![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)", None),
    ("![pixel](https://tracker.example/p.gif)", None),
    ('<a href="javascript:alert(1)">x</a>', "&lt;a href="),
    ("[x](<javascript&#58;alert(1)>)", None),
    ("<iframe src=//evil.example></iframe>", "&lt;iframe"),
]


@pytest.mark.parametrize(("source", "shown"), HOSTILE)
def test_what_a_writer_types_comes_out_harmless(world, source, shown):
    article = make_article(desk=world.desk, body=f"Before\n\n{source}\n\nAfter")
    html = article.variants.get().body_html
    assert_harmless(html)
    if shown is not None:
        assert shown in html  # raw HTML is shown as text, not run
    assert "<p>Before</p>" in html and "<p>After</p>" in html
    # And so does every later version.
    variant = article.variants.get()
    services.edit_variant(actor=Actor.for_user(world.agent), variant=variant, body=source)
    variant.refresh_from_db()
    assert_harmless(variant.body_html)


def test_links_and_our_own_images_survive(world):
    body = "[Docs](https://docs.example/vpn) ![diagram](/api/v1/kb/public/articles/1/attachments/2)"
    html = make_article(desk=world.desk, body=body).variants.get().body_html
    assert_harmless(html)
    assert (
        'href="https://docs.example/vpn"' in html and 'rel="noopener noreferrer nofollow"' in html
    )
    assert 'src="/api/v1/kb/public/articles/1/attachments/2"' in html


def test_two_editors_never_share_a_version_number(world):
    article = make_article(desk=world.desk)
    variant = article.variants.get()
    stale_copy = article.variants.get()  # the second editor loaded it before the first saved
    services.edit_variant(actor=Actor.for_user(world.agent), variant=variant, body="One")
    services.edit_variant(actor=Actor.for_user(world.manager), variant=stale_copy, body="Two")
    numbers = list(ArticleVersion.objects.order_by("number").values_list("number", "body"))
    assert numbers == [(1, "Open **Settings**, then *VPN*."), (2, "One"), (3, "Two")]
