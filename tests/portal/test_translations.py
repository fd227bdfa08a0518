"""French and English: the catalogue is complete (plurals included), its compiled file matches
it, every refusal reads in the reader's language, and a person reads the language of their
setting, or else their browser's.
"""

from __future__ import annotations

import ast
import gettext
import io
from pathlib import Path

import pytest
from django.test import Client
from django.utils import translation

import comptoir
from comptoir.core.errors import DomainError, ErrorCode
from comptoir.core.translations import catalog, mo_bytes, problems, read_po
from comptoir.portal.shared import error_text
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
    expected: dict = {}
    for key, value in catalog(entries()).items():
        if not key:
            continue
        if "\0" in key:  # a plural: gettext keys each form by (singular, index)
            singular = key.split("\0")[0]
            expected.update({(singular, i): form for i, form in enumerate(value.split("\0"))})
        else:
            expected[key] = value
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


#: A message of the pages: its id, and its plural id when its words depend on a count.
Message = tuple[str, str | None]


def _template_messages(text: str) -> set[Message]:
    """The messages of a template, as Django's own parser reads them (``trimmed``, ``%%``,
    ``{{ var }}`` → ``%(var)s``, and ``{% plural %}`` blocks as singular and plural)."""
    from django.template import engines
    from django.templatetags.i18n import BlockTranslateNode, TranslateNode

    nodes = engines["django"].from_string(text).template.nodelist  # type: ignore[attr-defined]
    found: set[Message] = set()
    for node in nodes.get_nodes_by_type(TranslateNode):
        literal = getattr(node.filter_expression.var, "literal", None)
        if isinstance(literal, str):
            found.add((literal, None))
    for node in nodes.get_nodes_by_type(BlockTranslateNode):
        singular = node.render_token_list(node.singular)[0]
        plural = node.render_token_list(node.plural)[0] if node.plural else None
        found.add((singular, plural))
    return found


def _template_strings() -> set[Message]:
    found: set[Message] = set()
    for app in UI_APPS:
        for path in (ROOT / app / "templates").rglob("*"):
            if path.suffix in (".html", ".txt"):
                found |= _template_messages(path.read_text())
    return found


SINGLE = {"_", "gettext", "gettext_lazy", "gettext_noop"}
PLURAL = {"ngettext", "ngettext_lazy"}


def _python_messages(source: str) -> set[Message]:
    found: set[Message] = set()
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        texts = [a.value for a in node.args if isinstance(a, ast.Constant)]
        if node.func.id in SINGLE and texts and isinstance(texts[0], str):
            found.add((texts[0], None))
        elif (
            node.func.id in PLURAL
            and len(texts) >= 2
            and all(isinstance(t, str) for t in texts[:2])
        ):
            found.add((texts[0], texts[1]))
    return found


def _python_strings() -> set[Message]:
    found: set[Message] = set()
    for app in UI_APPS:
        for path in (ROOT / app).rglob("*.py"):
            found |= _python_messages(path.read_text())
    return found


def _missing(needed: set[Message], catalogue: list) -> list[str]:
    """The messages the catalogue lacks, or holds without their plural or its French forms."""
    by_id = {e.msgid: e for e in catalogue}
    missing = []
    for msgid, plural in sorted(needed, key=lambda m: (m[0], m[1] or "")):
        entry = by_id.get(msgid)
        if entry is None:
            missing.append(msgid)
        elif plural is not None and (
            entry.msgid_plural != plural or sorted(entry.msgstr) != [0, 1]
        ):
            missing.append(f"{msgid} (plural: {plural})")
    return missing


def test_every_string_of_the_pages_is_in_the_french_catalogue():
    missing = _missing(_template_strings() | _python_strings(), entries())
    assert missing == [], "run makemessages (see docs/development/i18n.md)"


def test_the_reader_of_the_templates_finds_plurals_and_trimmed_blocks():
    text = (
        "{% load i18n %}{% blocktranslate count counter=n trimmed %}\n  One file,\n  100%"
        " done.{% plural %}{{ counter }} files{% endblocktranslate %}{% translate 'Queues' %}"
    )
    assert _template_messages(text) == {
        ("One file, 100%% done.", "%(counter)s files"),
        ("Queues", None),
    }
    assert _python_messages("ngettext('%(n)d ticket', '%(n)d tickets', n); _('Hi')") == {
        ("%(n)d ticket", "%(n)d tickets"),
        ("Hi", None),
    }


def test_a_plural_without_its_plural_entry_is_missing():
    parsed = read_po(
        'msgid ""\nmsgstr "h"\n\nmsgid "%(n)s file"\nmsgstr "%(n)s fichier"\n\n'
        'msgid "%(n)s day"\nmsgid_plural "%(n)s days"\nmsgstr[0] "%(n)s jour"\n'
        'msgstr[1] "%(n)s jours"\n'
    )
    needed = {("%(n)s file", "%(n)s files"), ("%(n)s day", "%(n)s days"), ("gone", None)}
    assert _missing(needed, parsed) == ["%(n)s file (plural: %(n)s files)", "gone"]


@pytest.mark.parametrize("count", [1, 2, 51])
def test_french_plurals_follow_the_count(count):
    """Every plural message of the pages reads in French in the form its count asks for
    (French: one form for 0 and 1, the other from 2), from the compiled catalogue."""
    from django.utils import translation

    plurals = sorted(m for m in _template_strings() | _python_strings() if m[1] is not None)
    assert plurals, "the pages hold plural messages"
    by_id = {e.msgid: e for e in entries()}
    with translation.override("fr"):
        for singular, plural in plurals:
            form = by_id[singular].msgstr[0 if count <= 1 else 1]
            assert translation.ngettext(singular, plural, count) == form


SERVICE_WORDS = "Some words a service wrote, in English."


@pytest.mark.parametrize("code", list(ErrorCode), ids=str)
def test_every_refusal_reads_in_french_whatever_its_code(code):
    """A page shows a refusal in the reader's language for every error code there is: a code
    added without its sentence fails here."""
    french = {e.translation for e in entries() if e.msgid}
    refusal = DomainError(code, SERVICE_WORDS)
    with translation.override("fr"):
        words = error_text(refusal)
    assert words != SERVICE_WORDS and words in french
    with translation.override("en"):
        english = error_text(refusal)
    assert english and (english == SERVICE_WORDS) == (code == ErrorCode.VALIDATION_ERROR)


def test_a_validation_refusal_keeps_its_own_words_where_the_catalogue_has_them():
    """A service's sentence about what exactly was wrong reads in French when the catalogue
    holds it; else the code's sentence; in English, always the service's own."""
    known = DomainError(ErrorCode.VALIDATION_ERROR, "A name is 1 to 80 characters.")
    unknown = DomainError(ErrorCode.VALIDATION_ERROR, "title: 'x' * 300 is too long")
    with translation.override("fr"):
        assert error_text(known) == "Un nom compte de 1 à 80 caractères."
        assert error_text(unknown) == "Une saisie n’est pas valide : vérifiez-la et réessayez."
    with translation.override("en"):
        assert error_text(unknown) == "title: 'x' * 300 is too long"


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
