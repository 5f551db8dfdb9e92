"""The OpenAPI document is complete: every operation says what it does (summary and
description), every parameter what it means and an example of it, and every 2xx answer shows
an example (of the whole body, or of each of its fields down to the leaves), so that Swagger UI
and generated clients have something concrete to show."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from store.sqlite import SQLiteStore

DOC = create_app(SQLiteStore(Path("unused.sqlite"))).openapi()  # the document reads no store
SCHEMAS = DOC["components"]["schemas"]
OPERATIONS = [
    (method.upper(), path, op) for path, ops in DOC["paths"].items() for method, op in ops.items()
]
IDS = [f"{method} {path}" for method, path, _ in OPERATIONS]


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def has_example(schema: dict[str, Any]) -> bool:
    return "example" in schema or "examples" in schema


def fields_without_example(schema: dict[str, Any], where: str) -> list[str]:
    """Where, under *schema*, a value has no example: the schema itself has one, or each item,
    alternative (other than null) and property has one, recursively."""
    schema = resolve(schema)
    if has_example(schema):
        return []
    if "items" in schema:
        return fields_without_example(schema["items"], f"{where}[]")
    alternatives = [a for a in schema.get("anyOf", []) if a.get("type") != "null"]
    if alternatives:
        return [m for a in alternatives for m in fields_without_example(a, where)]
    if "properties" in schema:
        return [
            missing
            for name, prop in schema["properties"].items()
            for missing in fields_without_example(prop, f"{where}.{name}")
        ]
    return [where]


def test_the_document_has_operations() -> None:
    assert len(OPERATIONS) >= 8
    assert ("GET", "/series") in [(m, p) for m, p, _ in OPERATIONS]


@pytest.mark.parametrize(("method", "path", "op"), OPERATIONS, ids=IDS)
def test_every_operation_has_a_summary_and_a_description(
    method: str, path: str, op: dict[str, Any]
) -> None:
    assert op.get("summary", "").strip(), f"{method} {path}: no summary"
    assert op.get("description", "").strip(), f"{method} {path}: no description (docstring)"


@pytest.mark.parametrize(("method", "path", "op"), OPERATIONS, ids=IDS)
def test_every_parameter_has_a_description_and_an_example(
    method: str, path: str, op: dict[str, Any]
) -> None:
    for parameter in op.get("parameters", []):
        name = f"{method} {path} {parameter['in']} parameter {parameter['name']!r}"
        assert parameter.get("description", "").strip(), f"{name}: no description"
        schema = resolve(parameter.get("schema", {}))
        assert has_example(parameter) or has_example(schema), f"{name}: no example"


@pytest.mark.parametrize(("method", "path", "op"), OPERATIONS, ids=IDS)
def test_every_success_answer_has_an_example(method: str, path: str, op: dict[str, Any]) -> None:
    answers = {code: r for code, r in op["responses"].items() if code.startswith("2")}
    assert answers, f"{method} {path}: no 2xx answer documented"
    for code, response in answers.items():
        assert response.get("content"), f"{method} {path} {code}: no content documented"
        for media_type, content in response["content"].items():
            if has_example(content):
                continue
            where = f"{method} {path} {code} {media_type}"
            assert not fields_without_example(content.get("schema", {}), where)


def test_a_field_without_example_is_found() -> None:
    """The walk above can fail: a nested field without an example is named."""
    schema = {
        "type": "array",
        "items": {
            "properties": {
                "a": {"type": "string", "examples": ["x"]},
                "b": {"anyOf": [{"properties": {"c": {"type": "integer"}}}, {"type": "null"}]},
            }
        },
    }
    assert fields_without_example(schema, "body") == ["body[].b.c"]
