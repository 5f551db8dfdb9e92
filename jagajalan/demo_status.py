"""What `jagajalan demo` prints: the banner with the exact commands for this run, and every
5 s one status line (counts, and names only of the gateways that changed) plus the story of
the demo's own sites (water status, ISPU category, traffic) from ``GET /conditions``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Names shown at most per kind of change; the rest is counted.
MAX_NAMES = 5
#: A site's conditions are printed when a label changes, else at most this often (seconds).
CONDITIONS_EVERY = 30.0


def command_prefix() -> str:
    """How to call `jagajalan` from here: ``.venv/bin/jagajalan`` in a checkout."""
    exe = Path(sys.executable).parent / "jagajalan"
    if not exe.exists():
        return "jagajalan"
    try:
        return os.path.relpath(exe)
    except ValueError:  # another drive (Windows)
        return str(exe)


def banner(demo: Any) -> str:
    jj = command_prefix()
    sc = demo.scenario
    broker_note = ""
    if demo.broker is not None:
        broker_note = " (embedded amqtt)"
        if not demo.broker_url.endswith(":1883"):
            broker_note = " (embedded amqtt; port 1883 is taken on this machine)"
    from kernel.demo_state import FILE_NAME

    return (
        "[bold]JagaJalan demo is running[/bold]\n"
        f"  scenario      {sc.name} at {sc.speed:g}x, sites {', '.join(demo.gateways)}\n"
        f"  broker        {demo.broker_url}{broker_note}\n"
        f"  store         {demo.store_desc}\n"
        f"  conditions    {demo.api}/conditions   (water, air quality, traffic per site)\n"
        f"  latest values {demo.api}/readings/latest\n"
        f"  gateways      {demo.api}/gateways\n"
        f"  health        {demo.api}/health\n"
        f"  API docs      {demo.api}/docs\n"
        f"  logs          {demo.logs}\n"
        f"  state         {demo.dir / FILE_NAME}  (read by --broker-url demo)\n"
        "Try in another terminal (these commands reach this demo):\n"
        f"  {jj} simulate devices --dir var/sim --gateways srl-limun-01 "
        f"--broker-url {demo.broker_url}\n"
        f"  {jj} gateway run --config var/sim/srl-limun-01.toml\n"
        f"  {jj} simulate fleet --gateways 50 --rate 1 --duration 30 "
        f"--broker-url {demo.broker_url}\n"
        f"  {jj} demo switch rainy_season_flood{_dir_option(demo)}   "
        "(or haze_episode, rush_hour_congestion, normal_day, first_rains)\n"
        "Ctrl-C stops everything."
    )


def _dir_option(demo: Any) -> str:
    default = Path("var/demo").resolve()
    return "" if demo.dir == default else f" --dir {demo.dir}"


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_NAMES])
    more = len(names) - MAX_NAMES
    return f"{shown} and {more} more" if more > 0 else shown


def summarise(
    what: str, previous: dict[str, str], now: dict[str, str], name_new: bool = True
) -> str:
    """``<what>: <count> <state>, ...`` and names only of what is new or changed state."""
    counts: dict[str, int] = {}
    for state in now.values():
        counts[state] = counts.get(state, 0) + 1
    text = ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "none yet"
    new = sorted(k for k in now if k not in previous)
    changes: dict[str, list[str]] = {}
    for k in sorted(now):
        if k in previous and previous[k] != now[k]:
            changes.setdefault(now[k], []).append(k)
    parts = [f"{what}: {text}"]
    if new and previous and name_new:
        parts.append(f"new: {_names(new)}")
    for state, names in sorted(changes.items()):
        parts.append(f"now {state}: {_names(names)}")
    return " | ".join(parts)


def gateway_summary(previous: dict[str, str], gateways: list[dict]) -> tuple[str, dict[str, str]]:
    """Counts by state, and names only of the gateways that are new or changed state."""
    now = {g["gateway"]: g.get("state") or "unknown" for g in gateways}
    return summarise("gateways", previous, now), now


def device_summary(previous: dict[str, str], gateways: list[dict]) -> tuple[str, dict[str, str]]:
    """The same for devices (``<gateway>/<device>``), from GET /gateways's device states;
    new devices are counted, not named (a new gateway brings its own)."""
    now = {
        f"{g['gateway']}/{d['device']}": d.get("state") or "unknown"
        for g in gateways
        for d in g.get("devices") or []
    }
    if not now:
        return "", now
    return summarise("devices", previous, now, name_new=False), now


def site_line(site: dict, per_hour: Callable[[int], float] | None = None) -> str:
    parts = []
    if site.get("water"):
        w = site["water"]
        road = f" ({w['road_label']})" if w["road"] != "normal" else ""
        parts.append(f"water {w['level_cm']:+.1f} cm {w['status_label']}{road}")
    if site.get("air"):
        a = site["air"]
        parts.append(f"PM2.5 {a['pm25']:.0f} µg/m³ ISPU {a['ispu']:.0f} {a['category_label']}")
    if site.get("traffic"):
        t = site["traffic"]
        # Flows in pcu/h run as fast as the demo's clock; *per_hour* turns the vehicles
        # counted in an interval into vehicles per scenario hour.
        volume = f"{per_hour(t['vehicles']):.0f} veh/h" if per_hour else f"{t['vehicles']} veh"
        speed = f", {t['speed_mean']:.0f} km/h" if t["speed_mean"] is not None else ""
        los = f", LOS {t['los']}" if t["los"] else ""
        parts.append(f"traffic {volume}{speed}{los}")
    return f"  {site['gateway']:<14} " + " | ".join(parts)


def _labels(site: dict) -> tuple:
    return (
        (site.get("water") or {}).get("status"),
        (site.get("air") or {}).get("category"),
        (site.get("traffic") or {}).get("los"),
    )


class StatusBoard:
    def __init__(self, api: str) -> None:
        self.api = api
        self.states: dict[str, str] = {}
        self.devices: dict[str, str] = {}
        self.labels: dict[str, tuple] = {}
        self.printed: dict[str, float] = {}

    def scenario_line(self, demo: Any, switched: bool = False) -> str:
        from simulators.scenario.config import format_daytime

        sc = demo.scenario
        at = format_daytime(demo.scenario_time() - sc.start)
        head = "now playing" if switched else "scenario"
        return f"{head} {sc.name} {at} WIB"

    def update(self, demo: Any) -> list[str]:
        import httpx

        try:
            gws = httpx.get(f"{self.api}/gateways", timeout=2).json()
            sites = httpx.get(f"{self.api}/conditions", timeout=2).json()
        except (httpx.HTTPError, ValueError):
            return [f"[dim]{time.strftime('%H:%M:%S')}[/dim] API not answering yet"]
        summary, self.states = gateway_summary(self.states, gws)
        devices, self.devices = device_summary(self.devices, gws)
        text = " | ".join(p for p in (self.scenario_line(demo), summary, devices) if p)
        lines = [f"[dim]{time.strftime('%H:%M:%S')}[/dim] {text}"]
        now = time.monotonic()
        for site in sites:
            gw = site["gateway"]
            if gw not in demo.gateways:
                continue
            labels = _labels(site)
            changed = self.labels.get(gw) != labels
            if changed or now - self.printed.get(gw, 0.0) >= CONDITIONS_EVERY:
                lines.append(
                    site_line(site, demo.vehicles_per_hour) + (" [bold]*[/bold]" if changed else "")
                )
                self.labels[gw], self.printed[gw] = labels, now
        return lines
