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

    from kernel.demo_state import read_state
    from simulators.scenario.engine import Scenario

    console = Console(stderr=True, highlight=False)
    scenario = Scenario.load(args.scenario)  # ConfigError (unknown name, bad file): exit 2
    if not demo_sites(scenario):
        from simulators.sites import SITES

        console.print(
            f"[red]error:[/red] scenario {scenario.name} has no site the demo can emulate; "
            f"its sites must be among {', '.join(s.gateway for s in SITES)}"
        )
        return 2
    state = read_state(args.dir)
    if state is None:
        console.print(
            f"[red]error:[/red] no demo is running with --dir {args.dir} "
            f"({args.dir / 'demo.json'} not found or its process has ended); start one with "
            "`make demo`"
        )
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
            console.print("[red]error:[/red] the demo stopped before it switched")
            return 1
        if now.scenario == scenario.name and now.started >= asked:
            console.print(
                f"The demo now plays {scenario.name} with gateways {', '.join(now.gateways)}; "
                f"see {now.api_url}/conditions"
            )
            return 0
        time.sleep(0.2)
    console.print(f"[red]error:[/red] the demo did not switch within {args.timeout:g} s")
    return 1
