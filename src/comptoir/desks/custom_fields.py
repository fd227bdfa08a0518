"""Per-desk custom fields: a schema (a list of field definitions) and a pure validator.

A definition is ``{"key", "label", "type", "required", "choices", "kinds", "max_length"}``
where ``type`` is one of string, text, integer, decimal, boolean, date, choice, email, and
``kinds`` (optional) limits the field to some ticket kinds.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

FIELD_TYPES = {"string", "text", "integer", "decimal", "boolean", "date", "choice", "email"}
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def validate_schema(schema: object) -> list[str]:
    if not isinstance(schema, list):
        return ["The schema must be a list of field definitions."]
    problems: list[str] = []
    seen: set[str] = set()
    for index, field in enumerate(schema):
        if not isinstance(field, dict):
            problems.append(f"Field {index} must be an object.")
            continue
        key = field.get("key")
        if not isinstance(key, str) or not KEY_RE.match(key):
            problems.append(
                f"Field {index}: key must be lower-case letters, digits and underscores."
            )
        elif key in seen:
            problems.append(f"Field {key!r} is defined twice.")
        else:
            seen.add(key)
        if field.get("type") not in FIELD_TYPES:
            problems.append(f"Field {key!r}: type must be one of {', '.join(sorted(FIELD_TYPES))}.")
        if field.get("type") == "choice" and not (
            isinstance(field.get("choices"), list) and field["choices"]
        ):
            problems.append(f"Field {key!r}: a choice field needs a list of choices.")
    return problems


def _coerce(field: dict[str, Any], value: Any) -> Any:
    kind = field["type"]
    if kind in {"string", "text"}:
        if not isinstance(value, str):
            raise ValueError("must be text")
        limit = int(field.get("max_length") or (255 if kind == "string" else 10_000))
        if len(value) > limit:
            raise ValueError(f"must be at most {limit} characters")
        return value
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be a whole number")
        return value
    if kind == "decimal":
        if isinstance(value, bool):
            raise ValueError("must be a number")
        try:
            number = Decimal(str(value))
        except InvalidOperation as exc:
            raise ValueError("must be a number") from exc
        if not number.is_finite():  # NaN and Infinity parse, but are no amount
            raise ValueError("must be a number")
        return str(number)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value
    if kind == "date":
        try:
            return dt.date.fromisoformat(str(value)).isoformat()
        except ValueError as exc:
            raise ValueError("must be a date (YYYY-MM-DD)") from exc
    if kind == "choice":
        if value not in field.get("choices", []):
            raise ValueError(f"must be one of {', '.join(map(str, field.get('choices', [])))}")
        return value
    if kind == "email":
        if not isinstance(value, str) or not EMAIL_RE.match(value):
            raise ValueError("must be an email address")
        return value.lower()
    raise ValueError("has an unknown type")


def clean_custom_fields(
    schema: list[dict[str, Any]], kind: str, values: dict[str, Any], *, partial: bool = False
) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate ``values`` against ``schema`` for a ticket of ``kind``.

    Returns the cleaned values and a map of field key → problem. With ``partial``, required
    fields that are absent are not reported (an update of some fields).
    """
    fields = {f["key"]: f for f in schema if not f.get("kinds") or kind in f["kinds"]}
    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, value in values.items():
        field = fields.get(key)
        if field is None:
            errors[key] = "is not a field of this desk"
            continue
        if value is None or value == "":
            if field.get("required"):
                errors[key] = "is required"
            continue
        try:
            cleaned[key] = _coerce(field, value)
        except ValueError as exc:
            errors[key] = str(exc)
    if not partial:
        for key, field in fields.items():
            if field.get("required") and key not in values:
                errors[key] = "is required"
    return cleaned, errors
