"""Django's form renderer, with the common widgets written out in Python.

Through templates, a select costs an included template per option and another per set of
attributes: a list page's filters and bulk bar (a few dozen options, a hundred with a large
desk's agents) spent more time there than in all their queries, and a ticket page's composer
(radio buttons, a text area, a file field) about a sixth of the page. ``Renderer`` prints the
very HTML Django's templates print for inputs, text areas, selects and radio buttons or check
boxes, whole or one option at a time (a test holds the two equal, escaping included) and
leaves every other widget, and any widget whose options have a template of their own, to the
templates.
"""

from __future__ import annotations

from typing import Any

from django.forms.renderers import DjangoTemplates
from django.utils.formats import localize
from django.utils.html import conditional_escape

_WIDGETS = "django/forms/widgets/"
SELECT = _WIDGETS + "select.html"
OPTION = _WIDGETS + "select_option.html"
#: Widgets printed as ``input.html`` prints them.
INPUTS = {
    _WIDGETS + name
    for name in (
        "input.html",
        "text.html",
        "email.html",
        "hidden.html",
        "number.html",
        "password.html",
        "url.html",
        "color.html",
        "datetime.html",
        "date.html",
        "time.html",
        "search.html",
        "tel.html",
        "file.html",
        "checkbox.html",
    )
}
TEXTAREA = _WIDGETS + "textarea.html"
#: A file field; printed here only when it shows no file already there.
CLEARABLE_FILE = _WIDGETS + "clearable_file_input.html"
#: Lists of radio buttons or check boxes, and their options' own template.
CHOICES = {
    _WIDGETS + "radio.html": _WIDGETS + "radio_option.html",
    _WIDGETS + "checkbox_select.html": _WIDGETS + "checkbox_option.html",
}
#: One of those options alone, as a page that lays its choices out itself prints it
#: (``{% for choice in form.visibility %}{{ choice.tag }}``).
OPTIONS = frozenset(CHOICES.values())


class Renderer(DjangoTemplates):
    def render(self, template_name: str, context: dict[str, Any], request: Any = None) -> str:
        widget = context.get("widget")
        if widget is not None:
            if template_name in INPUTS:
                return input_html(widget)
            if template_name == TEXTAREA:
                return textarea_html(widget)
            if template_name == CLEARABLE_FILE and not widget.get("is_initial"):
                return input_html({**widget, "value": None})
            if template_name == SELECT and _plain_options(widget, OPTION):
                return select_html(widget)
            if template_name in CHOICES and _plain_options(widget, CHOICES[template_name]):
                return choices_html(widget)
            if template_name in OPTIONS:  # stripped, as Django's renderer strips a template's
                return _input_option(widget).strip()
        return super().render(template_name, context, request=request)


def _plain_options(widget: dict[str, Any], template_name: str) -> bool:
    return all(
        option["template_name"] == template_name
        for _name, options, _index in widget["optgroups"]
        for option in options
    )


def _shown(value: Any) -> str:
    """As ``{{ value }}`` prints it: localised (a number or a date in the reader's format), then
    escaped unless marked safe."""
    return conditional_escape(localize(value))


def _attrs(attrs: dict[str, Any]) -> str:
    """As ``attrs.html``: ``True`` writes the name alone, ``False`` nothing."""
    return "".join(
        f" {conditional_escape(name)}"
        if value is True
        else f' {conditional_escape(name)}="{conditional_escape(str(value))}"'
        for name, value in attrs.items()
        if value is not False
    )


def select_html(widget: dict[str, Any]) -> str:
    """What ``select.html`` renders for a widget's context, character for character."""
    parts = [f'<select name="{conditional_escape(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, options, _index in widget["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{_shown(group_name)}">')
        for option in options:
            parts.append(
                f'\n  <option value="{conditional_escape(str(option["value"]))}"'
                f"{_attrs(option['attrs'])}>{_shown(option['label'])}</option>\n"
            )
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return "".join(parts)


def input_html(widget: dict[str, Any]) -> str:
    """What ``input.html`` renders (and the widgets that only include it)."""
    value = widget["value"]
    shown = "" if value is None else f' value="{conditional_escape(str(value))}"'
    return (
        f'<input type="{conditional_escape(widget["type"])}" name="{conditional_escape(widget["name"])}"'
        f"{shown}{_attrs(widget['attrs'])}>"
    )


def textarea_html(widget: dict[str, Any]) -> str:
    value = widget["value"]
    return (
        f'<textarea name="{conditional_escape(widget["name"])}"{_attrs(widget["attrs"])}>\n'
        f"{_shown(value) if value else ''}</textarea>"
    )


def choices_html(widget: dict[str, Any]) -> str:
    """What ``multiple_input.html`` renders with ``input_option.html`` for each option."""
    attrs = widget["attrs"]
    parts = ["<div"]
    if attrs.get("id"):
        parts.append(f' id="{conditional_escape(attrs["id"])}"')
    if attrs.get("class"):
        parts.append(f' class="{conditional_escape(attrs["class"])}"')
    parts.append(">")
    for group, options, _index in widget["optgroups"]:
        if group:
            parts.append(f"\n  <div><label>{_shown(group)}</label>")
        for option in options:
            parts.append(f"<div>\n    {_input_option(option)}\n\n</div>")
        if group:
            parts.append("\n  </div>")
    parts.append("\n</div>")
    return "".join(parts)


def _input_option(option: dict[str, Any]) -> str:
    html = input_html(option) + "\n"
    if not option["wrap_label"]:
        return html
    target = option["attrs"].get("id")
    where = f' for="{conditional_escape(target)}"' if target else ""
    return f"<label{where}>{html} {_shown(option['label'])}</label>"
