"""docs/api.md cannot fall behind the API silently: every path with its query parameters, every
response field and every status code the served OpenAPI declares, and every option of
``jagajalan api run``, is named there."""

from __future__ import annotations

import argparse
import re
import warnings
from pathlib import Path
from typing import Any

import pytest

from api import cli
from api.access import open_reads
from api.app import create_app
from store.sqlite import SQLiteStore
from testkit import REPO

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)  # see tests/api/test_api.py
    from fastapi.testclient import TestClient

DOC = REPO / "docs" / "api.md"


@pytest.fixture(scope="module")
def openapi(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    store = SQLiteStore(tmp_path_factory.mktemp("api-doc") / "store.sqlite")
    store.ensure()
    try:
        return TestClient(create_app(store, access=open_reads())).get("/openapi.json").json()
    finally:
        store.close()


def _sections(text: str) -> dict[str, str]:
    """``### heading`` -> the text up to the next heading."""
    parts = re.split(r"^#{2,3} (.+)$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _named(name: str, text: str) -> bool:
    """*name* in backticks, alone or as a part of a dotted name (`store.ok`)."""
    return re.search(rf"`(?:[\w.]+\.)?{re.escape(name)}(?:\.[\w.]+)?`", text) is not None


def test_every_path_and_query_parameter_is_documented(openapi: dict[str, Any]) -> None:
    sections = _sections(DOC.read_text())
    assert {"/health", "/gateways", "/readings/latest"} <= set(openapi["paths"])
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            route = f"`{method.upper()} {path}`"
            found = [body for heading, body in sections.items() if route in heading]
            assert found, f"docs/api.md has no section whose heading names {route}"
            for parameter in operation.get("parameters", []):
                where = f"{parameter['in']} parameter {parameter['name']!r} of {route}"
                assert _named(parameter["name"], found[0]), f"docs/api.md: {where} is missing"
            for status in set(operation["responses"]) - {"200"}:
                assert f"**{status}**" in found[0] or f"| {status} |" in DOC.read_text(), (
                    f"docs/api.md: status {status} of {route} is not described"
                )


def test_every_response_field_is_documented(openapi: dict[str, Any]) -> None:
    text = DOC.read_text()
    for model, schema in openapi["components"]["schemas"].items():
        for field in schema.get("properties", {}):
            assert _named(field, text), f"docs/api.md: field {field!r} of {model} is missing"


def test_every_option_of_api_run_is_documented() -> None:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    api = parser._subparsers._group_actions[0].choices["api"]  # type: ignore[union-attr]
    run = api._subparsers._group_actions[0].choices["run"]  # type: ignore[union-attr]
    shown = [a for a in run._actions if a.help != argparse.SUPPRESS]  # not the secret traps
    options = [s for a in shown for s in a.option_strings if s.startswith("--")]
    assert "--broker-timeout" in options
    text = DOC.read_text()
    for option in options:
        if option != "--help":
            assert f"`{option}`" in text, f"docs/api.md: option {option} is missing"


def test_the_readme_links_the_api_doc() -> None:
    assert "](docs/api.md)" in Path(REPO / "README.md").read_text()
