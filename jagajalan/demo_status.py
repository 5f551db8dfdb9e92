"""What `jagajalan demo` prints: the banner with the exact commands for this run, and every
5 s one status line (counts, and names only of the gateways that changed) plus the story of
the demo's own sites (water status, ISPU category, traffic) from ``GET /conditions`` and the
number of active alerts (firing or acknowledged) from ``GET /alerts``, in the
chosen language (the API's ``*_label`` or ``*_label_en``; states through ``demo.state.*``).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kernel.text import CATALOGUE, DEFAULT_LANG, Lang, tr

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


def banner(demo: Any, lang: Lang = DEFAULT_LANG) -> str:
    """What runs, where, and the commands that reach this demo, in *lang* (commands, URLs
    and paths as they are)."""
    from kernel.demo_state import FILE_NAME

    jj = command_prefix()
    sc = demo.scenario
    broker_note = ""
    if demo.broker is not None:
        moved = not demo.broker_url.endswith(":1883")
        broker_note = " " + tr(
            "demo.banner.embedded_moved" if moved else "demo.banner.embedded", lang
        )
    scenario = tr(
        "demo.banner.scenario_value",
        lang,
        name=sc.name,
        speed=f"{sc.speed:g}",
        sites=", ".join(demo.gateways),
    )
    rows = [
        ("scenario", scenario),
        ("broker", f"{demo.broker_url}{broker_note}"),
        ("store", demo.store_desc),
        *_parts_rows(demo, lang),
        ("overview", f"{demo.api}/peta   " + tr("demo.banner.overview_note", lang)),
        ("conditions", f"{demo.api}/conditions   " + tr("demo.banner.conditions_note", lang)),
        ("latest", f"{demo.api}/readings/latest"),
        ("gateways", f"{demo.api}/gateways"),
        ("health", f"{demo.api}/health"),
        ("docs", f"{demo.api}/docs"),
        ("logs", str(demo.logs)),
        ("state", f"{demo.dir / FILE_NAME}  " + tr("demo.banner.state_note", lang)),
    ]
    labels = [tr(f"demo.banner.{key}", lang) for key, _ in rows]
    width = max(len(label) for label in labels)
    from simulators.scenario.config import shipped

    others = [name for name in shipped() if name != "rainy_season_flood"]
    return "\n".join(
        [
            f"[bold]{tr('demo.banner.title', lang)}[/bold]",
            *(
                f"  {label:<{width}} {value}"
                for label, (_, value) in zip(labels, rows, strict=True)
            ),
            tr("demo.banner.try", lang),
            f"  {jj} simulate devices --dir var/sim --gateways srl-limun-01 "
            f"--broker-url {demo.broker_url}",
            f"  {jj} gateway run --config var/sim/srl-limun-01.toml",
            f"  {jj} simulate fleet --gateways 50 --rate 1 --duration 30 "
            f"--broker-url {demo.broker_url}",
            f"  {jj} demo switch rainy_season_flood{_dir_option(demo)}",
            f"  {jj} registry list sites --registry-db {demo.registry.path}",
            tr("demo.banner.other_scenarios", lang, names=", ".join(others)),
            tr("demo.banner.stop", lang),
        ]
    )


def _parts_rows(demo: Any, lang: Lang) -> list[tuple[str, str]]:
    """The banner's rows of the registry, the indicators job and the alerts service
    (jagajalan/demo_parts.py)."""
    from jagajalan.demo_parts import ALERTS_EXAMPLE, ANALYTICS_EVERY, REGISTRY_EXAMPLE

    reg = demo.registry
    example = os.path.relpath(REGISTRY_EXAMPLE) if REGISTRY_EXAMPLE.exists() else REGISTRY_EXAMPLE
    registry = tr("demo.banner.registry_value", lang, sites=reg.sites, file=example)
    indicators = tr("demo.banner.indicators_value", lang, every=ANALYTICS_EVERY)
    rules = os.path.relpath(ALERTS_EXAMPLE) if ALERTS_EXAMPLE.exists() else ALERTS_EXAMPLE
    alerts = tr("demo.banner.alerts_value", lang, file=rules, log=demo.logs / "alerts.log")
    return [
        ("registry", f"{reg.path}  {registry}"),
        ("indicators", indicators),
        ("alerts", alerts),
    ]


def _dir_option(demo: Any) -> str:
    default = Path("var/demo").resolve()
    return "" if demo.dir == default else f" --dir {demo.dir}"


def _names(names: list[str], lang: Lang) -> str:
    shown = ", ".join(names[:MAX_NAMES])
    more = len(names) - MAX_NAMES
    return tr("demo.count.more", lang, shown=shown, more=more) if more > 0 else shown


def state_label(state: str, lang: Lang = DEFAULT_LANG) -> str:
    """A gateway's or device's state in *lang*; a state the catalogue does not know (a newer
    gateway) as the code it is."""
    key = f"demo.state.{state}"
    return tr(key, lang) if key in CATALOGUE else f"`{state}`"


def summarise(
    what: str,
    previous: dict[str, str],
    now: dict[str, str],
    name_new: bool = True,
    lang: Lang = DEFAULT_LANG,
) -> str:
    """``<what>: <count> <state>, ...`` and names only of what is new or changed state;
    *what* is ``gateways`` or ``devices``."""
    counts: dict[str, int] = {}
    for state in now.values():
        counts[state] = counts.get(state, 0) + 1
    text = ", ".join(f"{n} {state_label(state, lang)}" for state, n in sorted(counts.items()))
    new = sorted(k for k in now if k not in previous)
    changes: dict[str, list[str]] = {}
    for k in sorted(now):
        if k in previous and previous[k] != now[k]:
            changes.setdefault(now[k], []).append(k)
    parts = [f"{tr(f'demo.count.{what}', lang)}: {text or tr('demo.count.none', lang)}"]
    if new and previous and name_new:
        parts.append(tr("demo.count.new", lang, names=_names(new, lang)))
    for state, names in sorted(changes.items()):
        label = state_label(state, lang)
        parts.append(tr("demo.count.now", lang, state=label, names=_names(names, lang)))
    return " | ".join(parts)


def gateway_summary(
    previous: dict[str, str], gateways: list[dict], lang: Lang = DEFAULT_LANG
) -> tuple[str, dict[str, str]]:
    """Counts by state, and names only of the gateways that are new or changed state."""
    now = {g["gateway"]: g.get("state") or "unknown" for g in gateways}
    return summarise("gateways", previous, now, lang=lang), now


def device_summary(
    previous: dict[str, str], gateways: list[dict], lang: Lang = DEFAULT_LANG
) -> tuple[str, dict[str, str]]:
    """The same for devices (``<gateway>/<device>``), from GET /gateways's device states;
    new devices are counted, not named (a new gateway brings its own)."""
    now = {
        f"{g['gateway']}/{d['device']}": d.get("state") or "unknown"
        for g in gateways
        for d in g.get("devices") or []
    }
    if not now:
        return "", now
    return summarise("devices", previous, now, name_new=False, lang=lang), now


def alerts_summary(alerts: list[dict], lang: Lang = DEFAULT_LANG) -> str:
    """``peringatan aktif: <n>``: the alerts of ``GET /alerts`` not resolved."""
    n = sum(1 for a in alerts if a.get("state") != "resolved")
    return tr("demo.count.alerts", lang, n=n)


def site_line(
    site: dict, per_hour: Callable[[int], float] | None = None, lang: Lang = DEFAULT_LANG
) -> str:
    """One site's water, air and traffic, with the API's labels in *lang*."""
    en = "_en" if lang == "en" else ""
    parts = []
    if site.get("water"):
        w = site["water"]
        road = f" ({w['road_label' + en]})" if w["road"] != "normal" else ""
        level, status = f"{w['level_cm']:+.1f}", w["status_label" + en]
        parts.append(tr("demo.site.water", lang, level=level, status=status, road=road))
    if site.get("air"):
        a = site["air"]
        pm25, ispu, category = f"{a['pm25']:.0f}", f"{a['ispu']:.0f}", a["category_label" + en]
        parts.append(tr("demo.site.air", lang, pm25=pm25, ispu=ispu, category=category))
    if site.get("traffic"):
        t = site["traffic"]
        # Flows in pcu/h run as fast as the demo's clock; *per_hour* turns the vehicles
        # counted in an interval into vehicles per scenario hour.
        if per_hour:
            volume = tr("demo.site.per_hour", lang, n=f"{per_hour(t['vehicles']):.0f}")
        else:
            volume = tr("demo.site.vehicles", lang, n=t["vehicles"])
        speed = ""
        if t["speed_mean"] is not None:
            speed = tr("demo.site.speed", lang, kmh=f"{t['speed_mean']:.0f}")
        los = f", LOS {t['los']}" if t["los"] else ""
        parts.append(tr("demo.site.traffic", lang, volume=volume, speed=speed, los=los))
    return f"  {site['gateway']:<14} " + " | ".join(parts)


def _labels(site: dict) -> tuple:
    return (
        (site.get("water") or {}).get("status"),
        (site.get("air") or {}).get("category"),
        (site.get("traffic") or {}).get("los"),
    )


class StatusBoard:
    def __init__(self, api: str, lang: Lang = DEFAULT_LANG) -> None:
        self.api = api
        self.lang = lang
        self.states: dict[str, str] = {}
        self.devices: dict[str, str] = {}
        self.labels: dict[str, tuple] = {}
        self.printed: dict[str, float] = {}

    def scenario_line(self, demo: Any, switched: bool = False) -> str:
        sc = demo.scenario
        day, rest = divmod(round(demo.scenario_time() - sc.start), 86400)
        clock = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}"
        at = tr("demo.clock", self.lang, day=day + 1, time=clock)
        key = "demo.now_playing" if switched else "demo.scenario_line"
        return tr(key, self.lang, name=sc.name, at=at)

    def _listing(self, path: str, query: dict | None = None) -> list[dict]:
        """GET *path* (with *query*): its list of objects. An error answer raises
        httpx.HTTPStatusError, anything but a list of objects ValueError (an error's body is an
        object, not a list)."""
        import httpx

        answer = httpx.get(f"{self.api}{path}", params=query, timeout=2)
        answer.raise_for_status()
        body = answer.json()
        if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
            raise ValueError(f"{path} answered something that is not a list of objects")
        return body

    def update(self, demo: Any) -> list[str]:
        import httpx

        stamp = f"[dim]{time.strftime('%H:%M:%S')}[/dim]"
        try:
            gws = self._listing("/gateways")
            sites = self._listing("/conditions")
        except (httpx.HTTPError, ValueError):
            # not up yet, busy (a 503 while the store is), or an answer that is not a listing
            return [f"{stamp} {tr('demo.api_waiting', self.lang)}"]
        summary, self.states = gateway_summary(self.states, gws, self.lang)
        devices, self.devices = device_summary(self.devices, gws, self.lang)
        alerts = ""
        try:  # the API serves alerts from the registry: a registry away hides the count only
            active = []
            for state in ("firing", "acknowledged"):
                active += self._listing("/alerts", {"state": state, "limit": 1000})
            alerts = alerts_summary(active, self.lang)
        except (httpx.HTTPError, ValueError):
            pass
        parts = (self.scenario_line(demo), summary, devices, alerts)
        text = " | ".join(p for p in parts if p)
        lines = [f"{stamp} {text}"]
        now = time.monotonic()
        for site in sites:
            gw = site["gateway"]
            if gw not in demo.gateways:
                continue
            labels = _labels(site)
            changed = self.labels.get(gw) != labels
            if changed or now - self.printed.get(gw, 0.0) >= CONDITIONS_EVERY:
                line = site_line(site, demo.vehicles_per_hour, self.lang)
                lines.append(line + (" [bold]*[/bold]" if changed else ""))
                self.labels[gw], self.printed[gw] = labels, now
        return lines
