"""The registry as CSV: one file per table in a folder (``sites.csv``, ``gateways.csv``,
``sensors.csv``, ``contacts.csv``), for people who keep it in a spreadsheet.

The columns are the keys of the TOML file (docs/configuration.md, "Registry file"), a
sub-table's keys joined with a dot (``flood.ladder``, ``flood.waspada_cm``); an empty cell is
a key not set. The rows are validated by the same model as the TOML file, and every problem of
every file is reported at once, naming the file, the line and the column, and the value. A
table whose file is missing is empty. Reading accepts a byte-order mark (a spreadsheet's
"CSV UTF-8"); files are written as UTF-8 without one.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from kernel.config import ConfigError, validate
from kernel.text import TextError
from registry.document import (
    ContactDoc,
    GatewayDoc,
    RegistryDoc,
    RiverGauge,
    RoadDepth,
    SensorDoc,
    SiteDoc,
    check,
)

MODELS: dict[str, type[BaseModel]] = {
    "sites": SiteDoc,
    "gateways": GatewayDoc,
    "sensors": SensorDoc,
    "contacts": ContactDoc,
}
_KEY = re.compile(r"^(\w+)\[(\d+)\]\.?(.*)$")


def columns(table: str) -> list[str]:
    """The CSV columns of *table*, in the order of the model's keys."""
    out: list[str] = []
    for name in MODELS[table].model_fields:
        if table == "sites" and name == "flood":
            ladder = ["flood.ladder"]
            for model in (RoadDepth, RiverGauge):
                ladder += [f"flood.{k}" for k in model.model_fields if k != "ladder"]
            out += ladder
        else:
            out.append(name)
    return out


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return repr(value) if isinstance(value, float) else str(value)


def write(folder: Path, data: dict[str, list[dict[str, Any]]]) -> list[Path]:
    """*data* (:func:`registry.document.from_rows`) as one CSV file per table in *folder*."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for table in MODELS:
        path = folder / f"{table}.csv"
        with path.open("w", encoding="utf-8", newline="") as out:
            _write_table(out, table, data.get(table, []))
        written.append(path)
    return written


def table_text(data: dict[str, list[dict[str, Any]]], table: str) -> str:
    """One table of *data* as the text of its CSV file (what :func:`write` puts there)."""
    import io

    out = io.StringIO(newline="")
    _write_table(out, table, data.get(table, []))
    return out.getvalue()


def _write_table(out: Any, table: str, items: list[dict[str, Any]]) -> None:
    writer = csv.DictWriter(out, columns(table))
    writer.writeheader()
    for item in items:
        flat = {k: v for k, v in item.items() if not isinstance(v, dict)}
        for name, sub in item.items():
            if isinstance(sub, dict):
                flat |= {f"{name}.{k}": v for k, v in sub.items()}
        writer.writerow({k: _cell(v) for k, v in flat.items()})


def _unflatten(row: dict[str, str | None]) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for column, value in row.items():
        if column is None:  # more cells than the header has columns
            item["(extra cells)"] = value
            continue
        if value is None or value.strip() == "":
            continue
        head, _, rest = column.strip().partition(".")
        if rest:
            item.setdefault(head, {})[rest] = value.strip()
        else:
            item[head] = value.strip()
    return item


def read(folder: Path) -> RegistryDoc:
    """The registry from the CSV files of *folder*; ConfigError naming every problem."""
    data: dict[str, list[dict[str, Any]]] = {}
    lines: dict[str, list[int]] = {}
    problems: list[tuple[str, Any, str, Any]] = []
    for table in MODELS:
        path = folder / f"{table}.csv"
        if not path.exists():
            continue
        try:
            with path.open(encoding="utf-8-sig", newline="") as src:
                reader = csv.DictReader(src)
                known = columns(table)
                for column in reader.fieldnames or []:
                    if column.strip() not in known:
                        error = TextError("config.err.unknown_key", keys=", ".join(known))
                        where = f"{table}.csv line 1, {column}"
                        problems.append((where, column, str(error), error.text))
                rows = []
                lines[table] = []
                for row in reader:
                    kept = {k: v for k, v in row.items() if k is None or k.strip() in known}
                    rows.append(_unflatten(kept))
                    lines[table].append(reader.line_num)
        except UnicodeDecodeError:
            error = TextError("config.err.not_utf8")
            problems.append((f"{table}.csv", None, str(error), error.text))
            continue
        try:
            validate(RegistryDoc, {table: rows}, path)
        except ConfigError as exc:
            for (key, value, message), text in zip(exc.problems, exc.texts, strict=True):
                problems.append((_where(table, key, lines[table]), value, message, text))
        data[table] = rows
    if problems:
        raise ConfigError(folder, problems)
    doc = RegistryDoc.model_validate(data, context={"config_dir": folder})

    def where(table: str, index: int, key: str) -> str:
        return f"{table}.csv line {lines[table][index]}, {key}"

    check(doc, str(folder), where)
    return doc


def _where(table: str, key: str, lines: list[int]) -> str:
    """``sites[2].latitude`` in sites.csv -> ``sites.csv line 4, latitude``."""
    found = _KEY.match(key)
    if not found or found.group(1) != table:
        return f"{table}.csv, {key}"
    line = lines[int(found.group(2))]
    return f"{table}.csv line {line}, {found.group(3) or '-'}"
