"""The select boxes written in Python print what Django's templates print, escaping included."""

from __future__ import annotations

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy, override

from comptoir.core.forms_renderer import SELECT, Renderer


class Choices(forms.Form):
    plain = forms.ChoiceField(choices=[("", "Any"), ("a", "Alpha"), ("b", "Beta")], required=False)
    grouped = forms.ChoiceField(
        choices=[
            ("", "None"),
            ("Europe", [("paris", "Paris"), ("lyon", "Lyon & Co")]),
            ("Elsewhere", [("nyc", "New York")]),
        ]
    )
    numbers = forms.TypedChoiceField(choices=[(1, "One"), (2, "Two"), (None, "Unset")], coerce=int)
    many = forms.MultipleChoiceField(choices=[("x", "X"), ("y", "Y"), ("z", "Z")])
    hostile = forms.ChoiceField(
        choices=[
            ('"><script>alert(1)</script>', "<img src=x onerror=alert(1)>"),
            ("safe", mark_safe("<b>bold</b>")),
            ("lazy", gettext_lazy("Status")),
        ],
        widget=forms.Select(attrs={"data-x": 'a"b', "disabled": True, "hidden": False}),
    )


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"plain": "b", "grouped": "lyon", "numbers": "2", "many": ["x", "z"], "hostile": "safe"},
        {"plain": "nope", "grouped": "", "numbers": "x", "many": [], "hostile": '"><script>'},
    ],
)
def test_every_select_prints_what_the_templates_print(data):
    form = Choices(data or None)
    for name in form.fields:
        context = form[name].field.widget.get_context(
            name, form[name].value(), {"id": f"id_{name}"}
        )
        with override("fr"):
            ours = Renderer().render(SELECT, context)
            theirs = DjangoTemplates().render(SELECT, context)
        assert ours == theirs, name


def test_a_form_on_the_page_uses_it_and_escapes_what_it_is_given():
    from django.forms.renderers import get_default_renderer

    assert isinstance(get_default_renderer(), Renderer)
    html = str(Choices({"hostile": "safe"})["hostile"])
    assert "<script>" not in html and "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<b>bold</b>" in html
    assert 'data-x="a&quot;b" disabled id="id_hostile"' in html and "hidden" not in html
    assert '<option value="safe" selected><b>bold</b></option>' in html


def test_a_select_with_an_option_template_of_its_own_is_left_to_the_templates():
    class Custom(forms.Select):
        option_template_name = "django/forms/widgets/input_option.html"

    widget = Custom(choices=[("a", "Alpha")])
    context = widget.get_context("pick", "a", {})
    assert Renderer().render(SELECT, context) == DjangoTemplates().render(SELECT, context)
    assert 'type="' in Renderer().render(SELECT, context)  # input_option.html's own markup
