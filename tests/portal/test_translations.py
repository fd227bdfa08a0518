"""French and English: the catalogue is complete, its compiled file matches it, and a person
reads the language of their setting, or else their browser's.
"""

from __future__ import annotations

import ast
import gettext
import io
import re
from pathlib import Path

import pytest
from django.test import Client

import comptoir
from comptoir.core.translations import catalog, mo_bytes, problems, read_po
from tests.factories import UserFactory

ROOT = Path(comptoir.__file__).parent
PO = ROOT / "locale/fr/LC_MESSAGES/django.po"
MO = PO.with_suffix(".mo")
UI_APPS = ("core", "portal", "workspace")


def entries():
    return read_po(PO.read_text(encoding="utf-8"))


def test_every_french_entry_is_translated_and_none_is_fuzzy():
    assert problems(entries()) == []


def test_the_committed_mo_holds_exactly_the_po():
    """Fails when the .po changed and `python -m comptoir.core.translations` was not run."""
    compiled = gettext.GNUTranslations(io.BytesIO(MO.read_bytes()))._catalog  # type: ignore[attr-defined]
    expected = {k: v for k, v in catalog(entries()).items() if k}
    assert {k: v for k, v in compiled.items() if k} == expected


def test_the_python_compiler_writes_what_gettext_reads():
    data = mo_bytes({"": "Content-Type: text/plain; charset=UTF-8\n", "Queues": "Files", "é": "ü"})
    reader = gettext.GNUTranslations(io.BytesIO(data))
    assert reader.gettext("Queues") == "Files" and reader.gettext("é") == "ü"


def test_reading_a_po_keeps_continued_lines_and_escapes():
    parsed = read_po(
        'msgid ""\nmsgstr "h"\n\n#, fuzzy\nmsgid "a"\nmsgstr "b"\n\n'
        'msgid ""\n"two "\n"lines \\"q\\"\\n"\nmsgstr "deux"\n'
    )
    assert [(e.msgid, e.translation, e.fuzzy) for e in parsed] == [
        ("", "h", False),
        ("a", "b", True),
        ('two lines "q"\n', "deux", False),
    ]
    assert problems(parsed) == ["fuzzy: 'a'"]


def _template_strings() -> set[str]:
    found: set[str] = set()
    for app in UI_APPS:
        for path in (ROOT / app / "templates").rglob("*"):
            if path.suffix not in (".html", ".txt"):
                continue
            text = path.read_text()
            found |= set(re.findall(r'{%\s*translate\s+"([^"]+)"', text))
            found |= set(re.findall(r"{%\s*translate\s+'([^']+)'", text))
            for body in re.findall(
                r"{%\s*blocktranslate[^%]*%}(.*?){%\s*endblocktranslate", text, re.S
            ):
                found.add(re.sub(r"{{\s*(\w+)\s*}}", r"%(\1)s", body))
    return found


def _python_strings() -> set[str]:
    found: set[str] = set()
    for app in UI_APPS:
        for path in (ROOT / app).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id in {"_", "gettext", "gettext_lazy"}
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)
                ):
                    found.add(node.args[0].value)
    return found


def test_every_string_of_the_pages_is_in_the_french_catalogue():
    known = {e.msgid for e in entries()}
    missing = sorted((_template_strings() | _python_strings()) - known)
    assert missing == [], "run makemessages (see docs/development/i18n.md)"


@pytest.mark.django_db
def test_a_person_reads_their_language_setting_whatever_the_browser():
    user = UserFactory(email="zoe@acme.test", locale="fr")
    client = Client()
    client.force_login(user)
    html = client.get("/portal/", headers={"Accept-Language": "en"}).content.decode()
    assert 'lang="fr"' in html
    assert "Mes demandes" in html and "Nouvelle demande" in html


@pytest.mark.django_db
def test_without_a_session_the_browser_language_is_used():
    french = Client().get("/login/", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    english = Client().get("/login/", headers={"Accept-Language": "en"})
    assert "Se connecter" in french.content.decode()
    assert "Mot de passe oublié ?" in french.content.decode()
    assert "Forgot your password?" in english.content.decode()
