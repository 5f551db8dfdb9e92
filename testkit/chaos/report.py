"""The figures of a ``make chaos`` run, written into docs/reliability.md between the markers
below (the rest of the page is written by hand and left alone). A run of some scenarios only
(``--only``) writes a block of its own, named after them, so that it does not replace the
figures of the last full run."""

from __future__ import annotations

import datetime
import platform
from pathlib import Path

BEGIN = "<!-- chaos figures: begin (written by `make chaos`, do not edit by hand) -->"
END = "<!-- chaos figures: end -->"


def markers(label: str | None) -> tuple[str, str]:
    if not label:
        return BEGIN, END
    return BEGIN.replace("chaos figures", f"chaos figures ({label})"), END.replace(
        "chaos figures", f"chaos figures ({label})"
    )


def render(
    figures: dict[str, float], minutes: float, failed: list[str], label: str | None = None
) -> str:
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    verdict = f"FAILED: {', '.join(failed)}" if failed else "passed"
    begin, end = markers(label)
    lines = [
        begin,
        f"Latest run: {when}, {minutes} min on {platform.node() or 'this machine'} "
        f"(Linux {platform.release()}), {verdict}.",
        "",
        "| figure | value |",
        "|---|---|",
        *(f"| `{key}` | {value} |" for key, value in figures.items()),
        end,
    ]
    return "\n".join(lines)


def write(
    path: Path,
    figures: dict[str, float],
    minutes: float,
    failed: list[str],
    label: str | None = None,
) -> None:
    """Replace the figures section of *path*, or the one of *label* (appended when the
    markers are missing)."""
    text = path.read_text() if path.exists() else ""
    block = render(figures, minutes, failed, label)
    begin, end = markers(label)
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)
