"""Loading TOML config files into pydantic models, with errors that point.

Every problem in the file is collected and reported at once, each naming the file, the key
(dotted path, with list indices) and the bad value. Never a traceback for a config mistake.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class ConfigError(Exception):
    def __init__(self, path: str | Path, problems: list[tuple[str, Any, str]]) -> None:
        self.path = str(path)
        self.problems = problems  # (key, value, message)
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"config error in {self.path}: {len(self.problems)} problem(s)"]
        for key, value, message in self.problems:
            shown = repr(value)
            if len(shown) > 80:
                shown = shown[:77] + "..."
            lines.append(f"  {self.path}: {key} = {shown}: {message}")
        return "\n".join(lines)


def _key(loc: tuple[Any, ...], data: Any) -> tuple[str, Any]:
    """Dotted key for a pydantic location, plus the value found there (if any)."""
    parts: list[str] = []
    node: Any = data
    missing = object()
    for item in loc:
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1] if parts else ''}[{item}]"]
        else:
            parts.append(str(item))
        if isinstance(node, dict):
            node = node.get(item, missing)
        elif isinstance(node, list) and isinstance(item, int) and item < len(node):
            node = node[item]
        else:
            node = missing
    return ".".join(parts) or "(top level)", (None if node is missing else node)


def validate(model: type[M], data: dict[str, Any], path: str | Path) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            # Drop the union/tag members pydantic inserts into the location.
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
            key, value = _key(loc, data)
            if err["type"] == "missing":
                value = None
                message = "required key is missing"
            elif err["type"] == "extra_forbidden":
                message = "unknown key (misspelt?)"
            else:
                message = err["msg"]
            problems.append((key, value, message))
        raise ConfigError(path, problems) from None


def load_toml(model: type[M], path: str | Path) -> M:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(p, [("(file)", str(p), "file not found")]) from None
    except OSError as exc:
        raise ConfigError(p, [("(file)", str(p), f"cannot read: {exc.strerror}")]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(p, [("(file)", str(p), "not UTF-8 text")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(p, [("(syntax)", None, f"not valid TOML: {exc}")]) from None
    return validate(model, data, p)
