"""The generated dashboards are what the code renders, byte for byte, and Grafana's own typed
models (the Foundation SDK, generated from Grafana's published schemas) read them back
without losing anything: every key we write is one the schema has, every panel type is a
panel Grafana ships, every unit a unit Grafana knows, every query an InfluxDB one.

Checked against Grafana 11.6 (``grafana-foundation-sdk==1769699379!11.6.0``, the dev pin) and
Grafana 10.4 (``1769699796!10.4.0``, which ``make install`` puts into .venv/grafana-sdk-10.4
beside the pinned one: two versions of one package cannot share a site-packages).
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from dashboards import generate
from dashboards.model import DATASOURCE
from testkit import REPO

BOARDS = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in generate.FOLDER.glob("*.json")}
SDK_10 = REPO / ".venv" / "grafana-sdk-10.4"
SDK = "grafana_foundation_sdk"


def test_regenerating_gives_byte_identical_files(tmp_path: Path) -> None:
    assert generate.stale() == [], "run `jagajalan dashboards generate` and commit the files"
    generate.write_all(tmp_path)
    again = {p.name: p.read_bytes() for p in tmp_path.glob("*.json")}
    assert again == {p.name: p.read_bytes() for p in generate.FOLDER.glob("*.json")}
    assert set(again) == {f"{name}.json" for name in generate.BOARDS}


def test_a_changed_file_is_found_stale(tmp_path: Path) -> None:
    generate.write_all(tmp_path)
    first = sorted(tmp_path.glob("*.json"))[0]
    first.write_text(first.read_text(encoding="utf-8").replace('"id": 1', '"id": 99'))
    assert generate.stale(tmp_path) == [first.name]


def _load_sdk(where: Path | None) -> dict[str, ModuleType]:
    """The SDK's modules we use, imported from *where* (None: the installed one)."""
    for name in [m for m in sys.modules if m == SDK or m.startswith(SDK + ".")]:
        del sys.modules[name]
    if where is not None:
        sys.path.insert(0, str(where))
    try:
        plugins = importlib.import_module(f"{SDK}.cog.plugins")
        plugins.register_default_plugins()
        mods = {
            n: importlib.import_module(f"{SDK}.{n}")
            for n in ("models.dashboard", "models.units", "cog.runtime", "cog.encoder")
        }
    finally:
        if where is not None:
            sys.path.remove(str(where))
    return mods


@pytest.fixture(params=["11.6", "10.4"])
def sdk(request: pytest.FixtureRequest) -> Iterator[tuple[str, dict[str, ModuleType]]]:
    where = SDK_10 if request.param == "10.4" else None
    if where is not None:
        assert (where / SDK).is_dir(), f"{where} is missing: run `make install`"
    saved = {m: mod for m, mod in sys.modules.items() if m == SDK or m.startswith(SDK + ".")}
    try:
        yield request.param, _load_sdk(where)
    finally:
        for name in [m for m in sys.modules if m == SDK or m.startswith(SDK + ".")]:
            del sys.modules[name]
        sys.modules.update(saved)


def _lost(ours: object, theirs: object, path: str = "") -> list[str]:
    """Paths of what *ours* has that *theirs* (the model's round trip) lost or changed."""
    if isinstance(ours, dict):
        if not isinstance(theirs, dict):
            return [path]
        out = []
        for key, value in ours.items():
            out += (
                [f"{path}/{key}"]
                if key not in theirs
                else _lost(value, theirs[key], f"{path}/{key}")
            )
        return out
    if isinstance(ours, list):
        if not isinstance(theirs, list) or len(ours) != len(theirs):
            return [path]
        return [
            p
            for i, (a, b) in enumerate(zip(ours, theirs, strict=True))
            for p in _lost(a, b, f"{path}[{i}]")
        ]
    return [] if ours == theirs else [f"{path}: {ours!r} became {theirs!r}"]


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_grafana_models_read_every_key_back(name: str, sdk: tuple[str, dict]) -> None:
    version, mods = sdk
    board = BOARDS[name]
    model = mods["models.dashboard"].Dashboard.from_json(board)
    again = json.loads(json.dumps(model, cls=mods["cog.encoder"].JSONEncoder))
    assert _lost(board, again) == [], f"Grafana {version}'s dashboard schema lacks these"


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_panels_use_what_grafana_ships(name: str, sdk: tuple[str, dict]) -> None:
    version, mods = sdk
    runtime, units = mods["cog.runtime"], mods["models.units"]
    known_units = {v for v in vars(units).values() if isinstance(v, str)}
    for panel in BOARDS[name]["panels"]:
        if panel["type"] == "row":
            continue
        where = f"Grafana {version}, {name}: panel {panel['title']!r}"
        assert runtime.panelcfg_config(panel["type"]) is not None, f"{where}: unknown type"
        assert panel["datasource"] == DATASOURCE, where
        unit = panel["fieldConfig"]["defaults"].get("unit")
        assert unit is None or unit in known_units, f"{where}: unknown unit {unit!r}"
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE and target["rawQuery"] is True, where


def _geomaps(board: dict) -> list[dict]:
    return [p for p in board["panels"] if p["type"] == "geomap"]


def test_the_site_map_needs_no_internet_by_default_and_takes_a_tile_server(
    tmp_path: Path, sdk: tuple[str, dict]
) -> None:
    version, mods = sdk
    (default,) = _geomaps(BOARDS["ringkasan-kabupaten.json"])
    assert "://" not in json.dumps(default["options"]), "the default map must load nothing remote"
    assert default["options"]["basemap"]["config"]["src"].startswith("public/")  # Grafana's own
    tiles = "http://peta.sarolangun.local/tiles/{z}/{x}/{y}.png"
    generate.write_all(tmp_path, tiles=tiles)
    board = json.loads((tmp_path / "ringkasan-kabupaten.json").read_text(encoding="utf-8"))
    (panel,) = _geomaps(board)
    assert panel["options"]["basemap"] == {
        "config": {"attribution": "", "url": tiles},
        "name": "Peta dasar",
        "type": "xyz",
    }
    model = mods["models.dashboard"].Dashboard.from_json(board)
    again = json.loads(json.dumps(model, cls=mods["cog.encoder"].JSONEncoder))
    assert _lost(board, again) == [], f"Grafana {version}"


def test_english_on_request_has_the_same_structure(sdk: tuple[str, dict]) -> None:
    version, mods = sdk
    english = {name: json.loads(text) for name, text in generate.render_all("en").items()}
    assert english.keys() == BOARDS.keys()
    for name, board in english.items():
        ours = BOARDS[name]
        assert board["title"] != ours["title"], name
        assert [p["type"] for p in board["panels"]] == [p["type"] for p in ours["panels"]]
        assert [t["query"] for p in board["panels"] for t in p.get("targets", [])] == [
            t["query"] for p in ours["panels"] for t in p.get("targets", [])
        ]
        model = mods["models.dashboard"].Dashboard.from_json(board)
        again = json.loads(json.dumps(model, cls=mods["cog.encoder"].JSONEncoder))
        assert _lost(board, again) == [], f"Grafana {version}, {name}"
