"""Passages and marks, without a database: the words found, whatever the text around them."""

from __future__ import annotations

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
