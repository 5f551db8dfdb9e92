"""`jagajalan demo switch <scenario>`: ask the running demo to play another scenario.

The request is a file, ``<dir>/switch.request``, holding the scenario's name or absolute
path; the demo's main loop takes it within a second, restarts its cabinets and gateways, and
rewrites ``demo.json`` with the new scenario and start time, which this command waits for.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

#: The demo runs at most this many sites of a scenario (CPU of a laptop).
MAX_SITES = 3
SWITCH_FILE = "switch.request"


def demo_sites(scenario) -> list[str]:
    """The gateways the demo runs for *scenario*: its first sites that simulators/sites.py
    knows (a site described only in the file has no emulated cabinet)."""
    from simulators.sites import SITES

    known = {s.gateway for s in SITES}
    return [g for g in scenario.sites if g in known][:MAX_SITES]


def take_switch_request(directory: Path) -> str | None:
    path = directory / SWITCH_FILE
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    path.unlink(missing_ok=True)
    return text or None


def cmd_switch(args: argparse.Namespace) -> int:
    from rich.console import Console

    from kernel.demo_state import FILE_NAME, read_state
    from kernel.text import tr
    from simulators.scenario.engine import Scenario

    console = Console(stderr=True, highlight=False, soft_wrap=True)
    lang = args.lang

    def error(key: str, **kw: object) -> None:
        problem = tr(key, lang, **kw)
        console.print(f"[red]{tr('demo.switch.error', lang, problem=problem)}[/red]")

    scenario = Scenario.load(args.scenario)  # ConfigError (unknown name, bad file): exit 2
    if not demo_sites(scenario):
        from simulators.sites import SITES

        known = ", ".join(s.gateway for s in SITES)
        error("demo.switch.sites_known", name=scenario.name, known=known)
        return 2
    state = read_state(args.dir)
    if state is None:
        error("demo.switch.no_demo", dir=args.dir, file=args.dir / FILE_NAME)
        return 1
    source = args.scenario
    if scenario.path is not None and ("/" in source or source.endswith(".toml")):
        source = str(scenario.path.resolve())
    asked = time.time()
    request = Path(state.dir) / SWITCH_FILE
    request.write_text(source + "\n", encoding="utf-8")
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        now = read_state(args.dir)
        if now is None:
            error("demo.switch.stopped")
            return 1
        if now.scenario == scenario.name and now.started >= asked:
            gateways = ", ".join(now.gateways)
            url = f"{now.api_url}/conditions"
            console.print(
                tr("demo.switch.done", lang, name=scenario.name, gateways=gateways, url=url)
            )
            return 0
        time.sleep(0.2)
    error("demo.switch.timeout", seconds=f"{args.timeout:g}")
    return 1
