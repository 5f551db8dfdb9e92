"""The figures of a ``make chaos`` run, written into docs/reliability.md between the markers
below (the rest of the page is written by hand and left alone)."""

from __future__ import annotations

import datetime
import platform
from pathlib import Path

BEGIN = "<!-- chaos figures: begin (written by `make chaos`, do not edit by hand) -->"
END = "<!-- chaos figures: end -->"


def render(figures: dict[str, float], minutes: float, failed: list[str]) -> str:
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    verdict = f"FAILED: {', '.join(failed)}" if failed else "passed"
    lines = [
        BEGIN,
        f"Latest run: {when}, {minutes} min on {platform.node() or 'this machine'} "
        f"(Linux {platform.release()}), {verdict}.",
        "",
        "| figure | value |",
        "|---|---|",
        *(f"| `{key}` | {value} |" for key, value in figures.items()),
        END,
    ]
    return "\n".join(lines)


def write(path: Path, figures: dict[str, float], minutes: float, failed: list[str]) -> None:
    """Replace the figures section of *path* (appended when the markers are missing)."""
    text = path.read_text() if path.exists() else ""
    block = render(figures, minutes, failed)
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)
