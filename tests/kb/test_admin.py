"""The knowledge base in the admin: shown with languages, versions, files and links, and
written nowhere but through the services."""

from __future__ import annotations

import io
import os
import time

import pytest
from django.core.management import call_command
from django.test import Client

from comptoir.core.actor import Actor
from comptoir.kb import services
from comptoir.kb.models import ArticleAttachment
from tests.kb.factories import public_article

pytestmark = pytest.mark.django_db


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_admin_shows_an_article_with_its_languages_and_versions(world):
    article = public_article(world.desk, title="Connect to the VPN")
    variant = article.variants.get()
    services.edit_variant(actor=Actor.for_user(world.agent), variant=variant, body="v2")
    client = admin_client(world.superuser)

    listed = client.get("/admin/kb/article/")
    assert listed.status_code == 200 and b"Connect to the VPN" in listed.content
    page = client.get(f"/admin/kb/article/{article.pk}/change/")
    assert page.status_code == 200 and b"connect-to-the-vpn" in page.content
    versions = client.get(f"/admin/kb/articlevariant/{variant.pk}/change/")
    assert versions.status_code == 200 and b"v2" in versions.content
    for model in ("articletag", "feedback", "deflection"):
        assert client.get(f"/admin/kb/{model}/").status_code == 200


def test_the_admin_writes_no_article(world):
    article = public_article(world.desk)
    client = admin_client(world.superuser)
    assert client.get("/admin/kb/article/add/").status_code == 403
    response = client.post(f"/admin/kb/article/{article.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert article.variants.exists()


def test_files_a_rolled_back_upload_left_behind_are_pruned(world, settings):
    article = public_article(world.desk)
    kept = services.add_article_attachment(
        actor=Actor.for_user(world.agent),
        article=article,
        upload=services.Upload(stream=io.BytesIO(b"kept"), name="kept.txt"),
    )
    orphan = settings.MEDIA_ROOT / "kb" / "ab" / "0123456789abcdef"
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"left behind")
    old = time.time() - 3 * 3600
    os.utime(orphan, (old, old))

    removed = services.prune_orphan_article_files()

    assert removed == ["kb/ab/0123456789abcdef"]
    assert not orphan.exists()
    assert ArticleAttachment.objects.get().pk == kept.pk
    assert (settings.MEDIA_ROOT / kept.file.name).exists()


def test_comptoir_cleanup_sweeps_article_files_too(world, settings):
    orphan = settings.MEDIA_ROOT / "kb" / "cd" / "fedcba9876543210"
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"left behind")
    old = time.time() - 3 * 3600
    os.utime(orphan, (old, old))
    out = io.StringIO()

    call_command("cleanup", stdout=out)

    assert not orphan.exists()
    assert "Removed 1 orphan file(s) (article files 1, ticket attachments 0)" in out.getvalue()
