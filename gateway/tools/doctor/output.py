"""``gateway doctor``'s output: the table for people, the JSON report, the exit status.

Exit status (:func:`exit_code`): 0 when every check that ran passed (warnings allowed); 1 when
a check failed; 3 when the checks that ran passed but some could not run because another
program holds what they need (the running gateway service holds the spool and the serial
ports; another program may lock a port). Then the verdict never says "all passed": it names
what was not checked and how to check it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text as RichText

from gateway.tools.doctor.checks import Result
from kernel import __version__
from kernel.text import Joined, Lang, T, Text, tr

STYLE = {"pass": "bold green", "warn": "bold yellow", "fail": "bold red", "skip": "dim"}
MARK = {"pass": "✔", "warn": "!", "fail": "✘", "skip": "–"}
#: Exit statuses: everything checked passed (warnings allowed); something failed; the checks
#: that ran passed but some could not run because another program holds what they need.
EXIT_OK, EXIT_FAILED, EXIT_UNCHECKED = 0, 1, 3
#: Rows of checks that did not run because the gateway service (or another program) holds
#: what they need: the serial ports and the spool.
UNCHECKED = frozenset({"device.skip_running", "device.skip_busy", "spool.in_use"})


def counts(results: list[Result]) -> dict[str, int]:
    return {s: sum(1 for r in results if r.status == s) for s in ("pass", "warn", "fail", "skip")}


#: Below this many columns the results are printed as blocks, not a table: a table's result
#: column would then be too narrow for paths and commands, which must never be cut.
MIN_TABLE_WIDTH = 100


def render_table(
    results: list[Result], lang: Lang, console: Console, title: str, seconds: float
) -> None:
    if console.width < MIN_TABLE_WIDTH:
        _render_blocks(results, lang, console, title)
    else:
        table = Table(title=RichText(title), box=box.SIMPLE_HEAVY, title_justify="left")
        table.add_column(tr("table.status", lang), no_wrap=True)
        table.add_column(tr("table.check", lang), no_wrap=True)
        table.add_column(tr("table.result", lang), overflow="fold")
        for r in results:
            cell = RichText(r.message.render(lang))
            if r.remedy is not None and r.status != "pass":
                cell.append("\n→ " + r.remedy.render(lang), style="cyan")
            table.add_row(_status(r, lang), RichText(r.name.render(lang)), cell)
        console.print(table)
    _render_verdict(results, lang, console, seconds)


def _status(r: Result, lang: Lang) -> RichText:
    label = tr(f"status.{r.status}", lang)
    return RichText(f"{MARK[r.status]} {label}", style=STYLE[r.status])


def _render_blocks(results: list[Result], lang: Lang, console: Console, title: str) -> None:
    """One block per result: status and check on a line, then the message and the remedy,
    printed without wrapping by the program (the terminal wraps, every character stays)."""
    console.print(RichText(title), soft_wrap=True)
    for r in results:
        console.print("", soft_wrap=True)
        head = _status(r, lang).append("  " + r.name.render(lang), style="bold")
        console.print(head, soft_wrap=True)
        console.print(RichText("    " + r.message.render(lang)), soft_wrap=True)
        if r.remedy is not None and r.status != "pass":
            remedy = RichText("    → " + r.remedy.render(lang), style="cyan")
            console.print(remedy, soft_wrap=True)
    console.print("", soft_wrap=True)


def _render_verdict(results: list[Result], lang: Lang, console: Console, seconds: float) -> None:
    n = counts(results)
    summary = tr(
        "doctor.summary",
        lang,
        passed=n["pass"],
        warned=n["warn"],
        failed=n["fail"],
        skipped=n["skip"],
        seconds=round(seconds),
    )
    console.print(summary, markup=False, highlight=False, soft_wrap=True)
    code = exit_code(results)
    verdict = {EXIT_OK: "doctor.verdict_ok", EXIT_FAILED: "doctor.verdict_fail"}
    if code in verdict:
        style = STYLE["fail" if code == EXIT_FAILED else "pass"]
        console.print(RichText(tr(verdict[code], lang), style=style), soft_wrap=True)
    unchecked = unchecked_text(results)
    if unchecked is not None:
        if code == EXIT_UNCHECKED:
            console.print(
                RichText(tr("doctor.verdict_partial", lang), style=STYLE["warn"]), soft_wrap=True
            )
        console.print(RichText(unchecked.render(lang), style=STYLE["warn"]), soft_wrap=True)
        console.print(
            RichText("→ " + tr("doctor.unchecked.remedy", lang), style="cyan"), soft_wrap=True
        )


def exit_code(results: list[Result]) -> int:
    """1 if a check failed, else 3 if a check could not run (:data:`UNCHECKED`), else 0."""
    if any(r.status == "fail" for r in results):
        return EXIT_FAILED
    if any(r.message.key in UNCHECKED for r in results):
        return EXIT_UNCHECKED
    return EXIT_OK


def unchecked(results: list[Result]) -> list[str]:
    """What was not checked: ``device:<id>`` for each device, ``spool`` for the spool."""
    out = []
    for r in results:
        if r.message.key in UNCHECKED:
            out.append(f"device:{r.details['device']}" if r.check == "device" else r.check)
    return out


def unchecked_text(results: list[Result]) -> Text | None:
    """The sentence naming what was not checked, or None."""
    items = []
    for item in unchecked(results):
        device = item.partition(":")[2]
        key = "doctor.unchecked.device" if device else "doctor.unchecked.spool"
        items.append(T(key, device=device) if device else T(key))
    if not items:
        return None
    return T("doctor.unchecked", what=Joined(tuple(items)))


def report(
    results: list[Result], lang: Lang, config_path: str, gateway: str | None, seconds: float
) -> dict[str, Any]:
    n = counts(results)
    return {
        "tool": "jagajalan gateway doctor",
        "version": __version__,
        "lang": lang,
        "config": config_path,
        "gateway": gateway,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ok": n["fail"] == 0,
        "exit": exit_code(results),
        "unchecked": unchecked(results),
        "counts": n,
        "seconds": round(seconds, 1),
        "checks": [r.to_json(lang) for r in results],
    }
