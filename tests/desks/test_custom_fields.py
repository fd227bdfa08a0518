"""A desk's custom fields: the schema check and the value validator, as pure functions."""

from __future__ import annotations

import pytest

from comptoir.desks.custom_fields import clean_custom_fields, validate_schema

SCHEMA = [
    {
        "key": "asset_tag",
        "label": "Asset tag",
        "type": "string",
        "required": True,
        "max_length": 10,
    },
    {"key": "notes", "label": "Notes", "type": "text"},
    {"key": "seats", "label": "Seats", "type": "integer"},
    {"key": "cost", "label": "Cost", "type": "decimal"},
    {"key": "remote", "label": "Remote", "type": "boolean"},
    {"key": "needed_by", "label": "Needed by", "type": "date"},
    {"key": "os", "label": "OS", "type": "choice", "choices": ["linux", "windows"]},
    {"key": "manager", "label": "Manager", "type": "email"},
    {
        "key": "rollback_plan",
        "label": "Rollback plan",
        "type": "text",
        "kinds": ["change"],
        "required": True,
    },
]


def clean(values, kind="incident", partial=False):
    return clean_custom_fields(SCHEMA, kind, values, partial=partial)


# --- schema ----------------------------------------------------------------------------------


def test_valid_schema_has_no_problems():
    assert validate_schema(SCHEMA) == []
    assert validate_schema([]) == []


def test_schema_must_be_a_list():
    assert validate_schema({"key": "x"}) == ["The schema must be a list of field definitions."]


@pytest.mark.parametrize(
    ("field", "problem"),
    [
        ("not a dict", "Field 0 must be an object."),
        (
            {"key": "Asset", "type": "string"},
            "Field 0: key must be lower-case letters, digits and underscores.",
        ),
        (
            {"key": "1st", "type": "string"},
            "Field 0: key must be lower-case letters, digits and underscores.",
        ),
        (
            {"key": "x" * 51, "type": "string"},
            "Field 0: key must be lower-case letters, digits and underscores.",
        ),
        ({"type": "string"}, "Field 0: key must be lower-case letters, digits and underscores."),
        ({"key": "colour", "type": "rgb"}, "Field 'colour': type must be one of "),
        ({"key": "os", "type": "choice"}, "Field 'os': a choice field needs a list of choices."),
        (
            {"key": "os", "type": "choice", "choices": []},
            "Field 'os': a choice field needs a list of choices.",
        ),
        (
            {"key": "os", "type": "choice", "choices": "linux"},
            "Field 'os': a choice field needs a list of choices.",
        ),
    ],
)
def test_schema_problems_are_reported(field, problem):
    problems = validate_schema([field])
    assert len(problems) == 1
    assert problems[0].startswith(problem)


def test_key_defined_twice_is_reported():
    schema = [{"key": "os", "type": "string"}, {"key": "os", "type": "text"}]
    assert validate_schema(schema) == ["Field 'os' is defined twice."]


# --- values ----------------------------------------------------------------------------------


def test_valid_values_come_back_cleaned():
    cleaned, errors = clean(
        {
            "asset_tag": "LT-042",
            "notes": "Second floor",
            "seats": 3,
            "cost": 12.5,
            "remote": True,
            "needed_by": "2030-01-31",
            "os": "windows",
            "manager": "Boss@Acme.TEST",
        }
    )
    assert errors == {}
    assert cleaned == {
        "asset_tag": "LT-042",
        "notes": "Second floor",
        "seats": 3,
        "cost": "12.5",
        "remote": True,
        "needed_by": "2030-01-31",
        "os": "windows",
        "manager": "boss@acme.test",
    }


def test_required_field_missing_is_reported_unless_partial():
    assert clean({}) == ({}, {"asset_tag": "is required"})
    assert clean({}, partial=True) == ({}, {})


@pytest.mark.parametrize("empty", [None, ""])
def test_required_field_sent_empty_is_reported_even_when_partial(empty):
    assert clean({"asset_tag": empty}, partial=True) == ({}, {"asset_tag": "is required"})


def test_optional_field_sent_empty_is_dropped():
    assert clean({"asset_tag": "A1", "seats": None, "notes": ""}) == ({"asset_tag": "A1"}, {})


def test_unknown_key_is_reported():
    assert clean({"asset_tag": "A1", "colour": "blue"}) == (
        {"asset_tag": "A1"},
        {"colour": "is not a field of this desk"},
    )


def test_field_limited_to_other_kinds_is_unknown_and_not_required_here():
    assert clean({"asset_tag": "A1", "rollback_plan": "x"}, kind="incident")[1] == {
        "rollback_plan": "is not a field of this desk"
    }
    assert clean({"asset_tag": "A1"}, kind="change")[1] == {"rollback_plan": "is required"}
    assert clean({"asset_tag": "A1", "rollback_plan": "Restore."}, kind="change") == (
        {"asset_tag": "A1", "rollback_plan": "Restore."},
        {},
    )


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("asset_tag", 42, "must be text"),
        ("asset_tag", "x" * 11, "must be at most 10 characters"),
        ("notes", "x" * 10_001, "must be at most 10000 characters"),
        ("seats", "3", "must be a whole number"),
        ("seats", 3.5, "must be a whole number"),
        ("seats", True, "must be a whole number"),
        ("cost", "a lot", "must be a number"),
        ("cost", False, "must be a number"),
        ("cost", "NaN", "must be a number"),
        ("cost", "Infinity", "must be a number"),
        ("cost", "-inf", "must be a number"),
        ("remote", "yes", "must be true or false"),
        ("remote", 1, "must be true or false"),
        ("needed_by", "31/01/2030", "must be a date (YYYY-MM-DD)"),
        ("needed_by", "2030-02-30", "must be a date (YYYY-MM-DD)"),
        ("os", "plan9", "must be one of linux, windows"),
        ("os", "Linux", "must be one of linux, windows"),
        ("manager", "not-an-address", "must be an email address"),
        ("manager", "two words@acme.test", "must be an email address"),
        ("manager", 7, "must be an email address"),
    ],
)
def test_value_of_the_wrong_type_is_reported_per_field(key, value, problem):
    cleaned, errors = clean({"asset_tag": "A1", key: value})
    assert errors == {key: problem}
    assert key not in cleaned or key == "asset_tag"


def test_every_bad_field_is_reported_at_once():
    _, errors = clean({"seats": "x", "os": "beos", "colour": "red"})
    assert errors == {
        "seats": "must be a whole number",
        "os": "must be one of linux, windows",
        "colour": "is not a field of this desk",
        "asset_tag": "is required",
    }


@pytest.mark.parametrize(
    ("value", "stored"), [("12.50", "12.50"), (3, "3"), ("-0.5", "-0.5"), ("1e3", "1E+3")]
)
def test_decimal_is_kept_as_exact_text(value, stored):
    assert clean({"asset_tag": "A1", "cost": value})[0]["cost"] == stored


def test_string_length_limit_defaults_to_255():
    schema = [{"key": "name", "type": "string"}]
    assert clean_custom_fields(schema, "incident", {"name": "x" * 255}) == ({"name": "x" * 255}, {})
    assert clean_custom_fields(schema, "incident", {"name": "x" * 256})[1] == {
        "name": "must be at most 255 characters"
    }
