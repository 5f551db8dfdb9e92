"""Tables for people that never cut a path or a header, whatever the terminal's width.

A table is printed as a table only when every header and every cell fits on one line of the
console at its natural width; otherwise each row becomes a block of ``header: value`` lines,
printed without wrapping by the program (the terminal wraps a long path but keeps every
character, so it can still be copied). rich's own shrinking would cut words ("publis…") or
fold a path over several lines.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

#: Cell padding and borders rich adds per column (one space each side and a rule).
COLUMN_EXTRA = 3


def natural_width(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> int:
    """The width a table needs to show every header and cell on one line."""
    widths = [cell_len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], max((cell_len(x) for x in str(cell).split("\n")), default=0))
    return sum(widths) + COLUMN_EXTRA * len(widths) + 1


def print_table(
    console: Console,
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    right: Sequence[int] = (),
) -> None:
    """*rows* under *headers*: a table if it fits *console*'s width, else one block per row.
    Columns whose index is in *right* are right-aligned in the table (numbers)."""
    if natural_width(headers, rows) <= console.width:
        table = Table(title=title)
        for i, header in enumerate(headers):
            table.add_column(header, justify="right" if i in right else "left", no_wrap=True)
        for row in rows:
            table.add_row(*(str(cell) for cell in row))
        console.print(table)
        return
    console.print(title, markup=False, highlight=False, soft_wrap=True)
    label = max(cell_len(h) for h in headers)
    for row in rows:
        console.print("", soft_wrap=True)
        for header, cell in zip(headers, row, strict=True):
            line = f"  {header:<{label}}  {cell}"
            console.print(line, markup=False, highlight=False, soft_wrap=True)
