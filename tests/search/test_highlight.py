"""Passages and marks, without a database: the words found, whatever the text around them."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from comptoir.search.highlight import Marker
from comptoir.search.query import read


def test_a_passage_shows_the_words_before_and_after_the_first_word_found():
    body = " ".join(f"w{i}" for i in range(300)) + " the printer jams " + "tail " * 40
    passage = Marker(read("printer")).passage(body)
    assert passage.startswith("… w293 w294")
    assert "w299 the <mark>printer</mark> jams" in passage
    assert passage.endswith(" …")


def test_a_passage_without_any_word_found_is_the_start_of_the_text():
    passage = Marker(read("printer")).passage("Nothing here.\nAt all.")
    assert passage.startswith("Nothing here. At all") and "<mark>" not in passage


def test_a_passage_shows_the_eight_words_before_even_when_they_are_long():
    long_words = [f"{'x' * 70}{i}" for i in range(10)]
    body = "start " + " ".join(long_words) + " printer jams"
    passage = Marker(read("printer")).passage(body)
    assert passage.startswith(f"… {long_words[2]} {long_words[3]}")
    assert passage.endswith(f"{long_words[9]} <mark>printer</mark> jams")


_PIECES = ["printer", "Printers", "principal", "pri", "print", "PRINT", "pr", "x", "jam", "2024"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(_PIECES), max_size=80),
    st.lists(st.sampled_from([" ", ", ", "\n", "-", "_", "'"]), min_size=80, max_size=80),
    st.sampled_from(["printer", "print", "pri jam", "2024", "principal printer"]),
)
def test_a_passage_is_the_same_whether_the_text_has_accents_or_not(words, gaps, query):
    """Text that is ASCII once its accents are folded is searched by the words' first letters,
    other text ("œ" folds to no one letter) word by word: all give the same passage. The texts
    differ only after the passage's end."""
    text = "".join(w + g for w, g in zip(words, gaps, strict=False)) + " zz" * 30
    marker = Marker(read(query))
    assert marker.passage(text + " cafe") == marker.passage(text + " café")
    assert marker.passage(text + " cafe") == marker.passage(text + " cœur")


def test_a_word_is_found_deep_in_a_french_text_and_marked_with_its_accents():
    body = "Bonjour, " + "le téléphone sonne très souvent à l'étage. " * 40 + "Le Réseau tombe."
    passage = Marker(read("reseau")).passage(body)
    assert passage.endswith("à l'étage. Le <mark>Réseau</mark> tombe")
    assert passage.startswith("… ")
    nowhere = Marker(read("imprimante")).passage(body)
    assert nowhere.startswith("Bonjour, le téléphone") and "<mark>" not in nowhere


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from([*_PIECES, "Réseau", "cœur", "", "é"]), max_size=6).map(" ".join),
        max_size=12,
    ),
    st.sampled_from(["printer", "print", "pri jam", "2024", "principal printer", "reseau pri"]),
    st.booleans(),
)
def test_texts_scored_together_hold_the_words_as_each_read_alone(texts, query, every):
    """A search scores its candidates' titles all at once (``holding``): the words' starts are
    looked for in the texts joined, and a start at the end of one text and a word at the start
    of the next must not make either hold the words."""
    marker = Marker(read(query))
    alone = [Marker(read(query)).holding([text], every=every)[0] for text in texts]
    assert marker.holding(texts, every=every) == alone
    assert alone == [marker._read_holds(text, every) for text in texts]


def test_a_title_with_accents_holds_the_words_typed_without_them():
    marker = Marker(read("reseau lent"))
    assert marker.holds("Réseau très LENT au 2e étage")
    assert not marker.holds("Réseau coupé")
    assert not marker.holds("Téléphone lent")
    assert marker.holds("Réseau coupé", every=False)
    assert Marker(read("strasse")).holds("Bureau Hauptstraße 5") is False  # a word, not a part
    assert Marker(read("straße")).holds("Hauptstraße, Straße 5")
