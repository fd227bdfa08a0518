"""The widgets written in Python print what Django's templates print, escaping included."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django import forms
from django.db.models import FileField
from django.db.models.fields.files import FieldFile
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
    decimals = forms.ChoiceField(
        choices=[("a", Decimal("1.5")), ("Rates", [("b", 2.25)])], required=False
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


HOSTILE = '"><script>alert(1)</script>'


class ManyFiles(forms.ClearableFileInput):
    allow_multiple_selected = True


class Inputs(forms.Form):
    text = forms.CharField(widget=forms.TextInput(attrs={"maxlength": 20, "placeholder": HOSTILE}))
    email = forms.EmailField(required=False)
    number = forms.IntegerField(required=False)
    hidden = forms.CharField(widget=forms.HiddenInput, required=False)
    secret = forms.CharField(widget=forms.PasswordInput(render_value=True), required=False)
    when = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), required=False)
    upload = forms.FileField(required=False)
    upload_one = forms.FileField(required=False, widget=forms.FileInput)
    uploads = forms.FileField(required=False, widget=ManyFiles)
    agree = forms.BooleanField(required=False)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)
    visibility = forms.ChoiceField(
        choices=[("reply", "Reply"), ("note", gettext_lazy("Note")), ("x", HOSTILE)],
        widget=forms.RadioSelect(attrs={"class": "choices"}),
    )
    grouped = forms.ChoiceField(
        choices=[("Team", [("a", "A"), ("b", "B")]), ("c", "C")],
        widget=forms.RadioSelect,
        required=False,
    )
    kinds = forms.MultipleChoiceField(
        choices=[("incident", "Incident"), ("request", "Request")],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )


@pytest.mark.parametrize(
    "data",
    [
        {},
        {
            "text": HOSTILE,
            "email": "a@b.example",
            "number": "42",
            "hidden": "<b>",
            "secret": "s&cret",
            "when": "2026-11-30",
            "agree": "on",
            "body": f"line one\n{HOSTILE}\n</textarea>",
            "visibility": "note",
            "grouped": "b",
            "kinds": ["request"],
        },
        {"number": "many", "visibility": "nope", "kinds": ["nope"]},
    ],
)
def test_every_input_text_area_and_choice_prints_what_the_templates_print(data):
    form = Inputs(data or None)
    for name in form.fields:
        widget = form[name].field.widget
        context = widget.get_context(name, form[name].value(), {"id": f"id_{name}"})
        with override("fr"):
            ours = Renderer().render(widget.template_name, context)
            theirs = DjangoTemplates().render(widget.template_name, context)
        assert ours == theirs, name
        assert "<script>" not in ours


@pytest.mark.parametrize("data", [{}, {"visibility": "x", "grouped": "b", "kinds": ["request"]}])
@pytest.mark.parametrize("wrap_label", [False, True])
def test_each_choice_printed_alone_prints_what_the_templates_print(data, wrap_label):
    """A page that lays out its choices itself (``{% for choice in form.visibility %}{{
    choice.tag }}``) prints each one as the option templates do."""
    form = Inputs(data or None)
    for name in ("visibility", "grouped", "kinds"):
        for choice in form[name]:
            context = {"widget": {**choice.data, "wrap_label": wrap_label}}
            with override("fr"):
                ours = Renderer().render(choice.template_name, context)
                theirs = DjangoTemplates().render(choice.template_name, context)
            assert ours == theirs, (name, choice.data["value"])
            assert "<script>" not in ours


def test_a_ticket_page_s_composer_escapes_what_was_typed():
    html = str(Inputs({"body": "</textarea><script>x</script>"})["body"])
    assert "<script>" not in html and "&lt;/textarea&gt;&lt;script&gt;" in html


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


def test_only_widgets_it_does_not_know_go_through_the_templates(monkeypatch):
    through: list[str] = []
    original = DjangoTemplates.render

    def render(self, template_name, context, request=None):
        through.append(template_name)
        return original(self, template_name, context, request)

    monkeypatch.setattr(DjangoTemplates, "render", render)
    form = Inputs({"visibility": "note", "kinds": ["request"]})
    for name in form.fields:
        str(form[name])
    for choice in [*form["visibility"], *form["kinds"]]:
        str(choice.tag())
    assert through == []
    with_a_file = forms.ClearableFileInput()
    context = with_a_file.get_context("doc", FieldFile(None, FileField(), "doc.pdf"), {})
    assert with_a_file.is_initial(context["widget"]["value"])
    with_a_file.render("doc", FieldFile(None, FileField(), "doc.pdf"))
    assert through == ["django/forms/widgets/clearable_file_input.html"]


def test_a_number_in_a_label_is_written_as_the_reader_writes_it():
    with override("fr"):
        html = str(Choices()["decimals"])
    assert ">1,5</option>" in html and 'label="Rates"' in html and ">2,25</option>" in html
