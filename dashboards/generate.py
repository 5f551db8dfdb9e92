"""The dashboards' JSON files: rendered from dashboards/boards/, written, compared.

``jagajalan dashboards generate`` writes them (into this package's folder by default, where
they are checked in); ``--check`` only says which differ from what the code renders, which
the tests and a reviewer use. Rendering is pure and deterministic.
"""

from __future__ import annotations

from pathlib import Path

from dashboards.boards import BOARDS

FOLDER = Path(__file__).resolve().parent


def render_all(lang: str = "id", tiles: str | None = None) -> dict[str, str]:
    """File name -> JSON text, for every dashboard."""
    return {f"{name}.json": build(lang, tiles).to_json() for name, build in BOARDS.items()}


def stale(folder: Path = FOLDER, lang: str = "id") -> list[str]:
    """The files in *folder* that are missing or differ from what the code renders."""
    out = []
    for name, text in render_all(lang).items():
        path = folder / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            out.append(name)
    return out


def write_all(folder: Path = FOLDER, lang: str = "id", tiles: str | None = None) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in render_all(lang, tiles).items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
