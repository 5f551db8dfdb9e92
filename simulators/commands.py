"""`jagajalan simulate scenario` and `jagajalan simulate fleet`.

Heavy imports happen inside the command functions (``jagajalan --help`` stays fast).
Scenario output is for technicians: Bahasa Indonesia by default, ``--lang en`` for English.
"""

from __future__ import annotations

import argparse
import json
import signal
from pathlib import Path

from kernel.signals import install


def register_scenario(actions: argparse._SubParsersAction) -> None:
    from kernel.text import LANGS, default_lang

    p = actions.add_parser(
        "scenario",
        help="run a scenario: ground truth and its expected threshold crossings",
        description=(
            "Run a scenario (simulators/scenarios/<name>.toml or a file) on its accelerated "
            "clock, print the state of every site each scenario hour, write the ground truth "
            "and compare the threshold crossings with the times the file expects."
        ),
    )
    p.add_argument("name", nargs="?", help="scenario name or path (see --list)")
    p.add_argument("--list", action="store_true", help="list the shipped scenarios")
    p.add_argument("--seed", type=int, default=None, help="override the file's seed")
    p.add_argument("--speed", type=float, default=None, help="clock speed (default: the file's)")
    p.add_argument("--fast", action="store_true", help="do not wait for the clock")
    p.add_argument("--truth", type=Path, default=None, help="write the ground truth (JSONL)")
    p.add_argument("--vehicles", action="store_true", help="also write every vehicle to --truth")
    p.add_argument("--quiet", action="store_true", help="no hourly progress lines")
    p.add_argument("--check", action="store_true", help="exit 1 if a crossing is off")
    p.add_argument(
        "--lang", choices=LANGS, default=default_lang(), help="language of the output: id or en"
    )
    p.set_defaults(func=cmd_scenario)


def register_fleet(actions: argparse._SubParsersAction) -> None:
    from kernel.text import LANGS, default_lang

    p = actions.add_parser(
        "fleet",
        help="many gateways publishing real batches to a broker (load generator)",
        description=(
            "Open MQTT connections for N simulated gateways and publish QoS 1 batches (the real "
            "codec, growing per-gateway seq, values from a scenario) at R batches/s each for D "
            "seconds; print and optionally write what was sent and acknowledged."
        ),
    )
    p.add_argument("--gateways", type=int, default=None, help="number of gateways (N)")
    p.add_argument("--rate", type=float, default=1.0, help="batches/s per gateway (default 1)")
    p.add_argument("--duration", type=float, default=60.0, help="seconds of publishing")
    p.add_argument(
        "--broker-url",
        default=None,
        help="mqtt://host[:port] or mqtts://host[:port]; 'demo': the running demo's broker "
        "(default: $JAGAJALAN_BROKER_URL, else the running demo's broker, else "
        "mqtt://127.0.0.1:1883)",
    )
    p.add_argument("--batch-size", type=int, default=10, help="readings per batch (default 10)")
    p.add_argument(
        "--encoding",
        choices=("json", "compact"),
        default="json",
        help="payload encoding: json (v1) or compact (v2, for cellular links); default json",
    )
    p.add_argument(
        "--credentials",
        type=Path,
        default=None,
        help="file of <gateway-id>:<password> lines; one connection per gateway",
    )
    p.add_argument(
        "--connections",
        type=int,
        default=None,
        help="multiplex the gateways on this many connections (broker ACL permitting)",
    )
    p.add_argument("--protocol", choices=("auto", "5", "3.1.1"), default="auto")
    p.add_argument("--ca-file", type=Path, default=None, help="CA certificate for mqtts://")
    p.add_argument("--prefix", default="fleet", help="gateway ids: <prefix>-0001, ...")
    p.add_argument("--seq-start", type=int, default=0, help="first seq of every gateway")
    p.add_argument("--scenario", default=None, help="values from this scenario (name or file)")
    p.add_argument("--speed", type=float, default=None, help="scenario clock speed")
    p.add_argument("--seed", type=int, default=None, help="override the scenario's seed")
    p.add_argument("--no-status", action="store_true", help="no retained online/offline status")
    p.add_argument("--drain-timeout", type=float, default=15.0, help="wait for PUBACKs, s")
    p.add_argument("--summary", type=Path, default=None, help="write the summary as JSON")
    p.add_argument("--progress", type=float, default=5.0, help="seconds between progress lines")
    p.add_argument(
        "--lang", choices=LANGS, default=default_lang(), help="language of the output: id or en"
    )
    p.set_defaults(func=cmd_fleet)


def _when(scenario, t: float) -> str:
    """``day2 06:30``: scenario day and WIB clock time, as written in scenario files."""
    from kernel.times import wib_hour

    minutes = round(wib_hour(t) * 60) % 1440
    return f"day{scenario.day_of(t)} {minutes // 60:02d}:{minutes % 60:02d}"


def cmd_scenario(args: argparse.Namespace) -> int:
    from rich.console import Console

    from kernel.tables import print_table
    from kernel.text import tr
    from simulators.scenario.config import shipped
    from simulators.scenario.engine import Scenario
    from simulators.scenario.run import ScenarioRunner, check_expectations, series_from_truth
    from simulators.truth import TruthWriter

    lang = args.lang
    out = Console()
    if args.list or not args.name:
        headers = [tr(f"simulate.list.{col}", lang) for col in SCENARIO_LIST]
        rows = []
        for name in shipped():
            sc = Scenario.load(name)
            days = tr("simulate.days", lang, n=f"{sc.duration / 86400:g}")
            text = sc.descriptions[lang] or sc.description
            rows.append((name, days, f"{sc.speed:g}x", " ".join(text.split())))
        print_table(out, tr("simulate.list", lang), headers, rows)
        return 0 if args.list else 2
    scenario = Scenario.load(args.name, seed=args.seed)
    clock = None if args.fast else scenario.clock(args.speed)
    truth = TruthWriter(args.truth)
    records: list[dict] = []
    hour = {"next": scenario.start}

    def on_sample(t: float, sample: dict[str, dict[str, float]]) -> None:
        for site, values in sample.items():
            records.append({"kind": "scenario", "device": site, "time": t * 1000, "values": values})
        if args.quiet or t < hour["next"]:
            return
        hour["next"] = t + 3600
        for site, v in sample.items():
            out.print(f"{_when(scenario, t)}  {site:<18} {_line(scenario, site, v, args.lang)}")

    runner = ScenarioRunner(
        scenario, clock=clock, truth=truth, on_sample=on_sample, vehicles=args.vehicles
    )
    speed = (
        tr("simulate.fast", lang)
        if clock is None
        else tr("simulate.paced", lang, speed=f"{clock.speed:g}")
    )
    out.print(tr("simulate.start", lang, name=scenario.name, seed=scenario.seed, speed=speed))
    restore_signals = install(lambda sig: runner.stop(), [signal.SIGTERM])
    try:
        runner.start()
        while not runner.join(0.2):
            pass
    except KeyboardInterrupt:
        runner.stop()
    finally:
        restore_signals()
        runner.stop()
        truth.close()
    out.print(
        tr("simulate.done", lang, n=runner.samples, truth=f" -> {args.truth}" if args.truth else "")
    )
    results = check_expectations(scenario, series_from_truth(records))
    if results:
        headers = [tr(f"simulate.col.{col}", lang) for col in THRESHOLD_COLUMNS]
        rows = []
        for r in results:
            delta = (
                "-" if r.delta is None else tr("simulate.minutes", lang, n=f"{r.delta / 60:+.0f}")
            )
            rows.append(
                (
                    r.expect.site,
                    r.expect.signal,
                    r.level,
                    tr(f"simulate.{r.expect.direction}", lang),
                    _when(scenario, r.expected),
                    tr("simulate.never", lang) if r.actual is None else _when(scenario, r.actual),
                    delta,
                    tr("simulate.ok" if r.ok else "simulate.bad", lang),
                )
            )
        print_table(out, tr("simulate.title", lang, name=scenario.name), headers, rows)
    finished = runner.last_time is not None and runner.last_time >= scenario.end - scenario.step
    if args.check and (not finished or not all(r.ok for r in results)):
        return 1
    return 0


SCENARIO_LIST = ("name", "duration", "speed", "description")
THRESHOLD_COLUMNS = ("site", "signal", "level", "way", "expected", "happened", "delta", "result")


def _line(scenario, site: str, v: dict[str, float], lang: str) -> str:
    from analytics import ispu
    from kernel.text import tr

    parts = [
        f"{v['temperature']:4.1f}°C",
        f"RH {v['humidity']:3.0f}%",
        tr("simulate.rain", lang, value=f"{v['rain_intensity']:4.1f}"),
        f"PM2.5 {v['pm25']:5.1f} ({ispu.category_of('pm25', v['pm25']).label(lang)})",
        f"DS {v['degree_of_saturation']:.2f}",
        f"{v['traffic_speed']:4.1f} km/h",
    ]
    if "water_level" in v:
        flood = scenario.sites[site].config.flood
        state = "normal"
        for name, level in sorted(flood.levels.items(), key=lambda kv: kv[1]):
            if v["water_level"] >= level:
                state = name
        parts.append(tr("simulate.water", lang, value=f"{v['water_level']:+5.1f}", level=state))
    return "  ".join(parts)


def cmd_fleet(args: argparse.Namespace) -> int:
    from rich.console import Console

    from kernel.demo_state import NoDemo, resolve_broker_url
    from kernel.tables import print_table
    from kernel.text import T, said, tr
    from simulators.fleet.generator import FleetOptions
    from simulators.fleet.mqtt import run_fleet

    lang = args.lang
    err = Console(stderr=True, highlight=False)
    try:
        args.broker_url, notice = resolve_broker_url(args.broker_url)
    except NoDemo as exc:
        problem = said(exc.args[0])
        err.print(tr("simulate.error", lang, problem=problem), markup=False, soft_wrap=True)
        return 2
    if notice:
        err.print(said(notice).render(lang), markup=False, soft_wrap=True)
    opts = FleetOptions(
        rate=args.rate,
        duration=args.duration,
        gateways=args.gateways,
        broker_url=args.broker_url,
        batch_size=args.batch_size,
        encoding=args.encoding,
        credentials=args.credentials,
        connections=args.connections,
        protocol=args.protocol,
        prefix=args.prefix,
        seq_start=args.seq_start,
        scenario=args.scenario,
        speed=args.speed,
        seed=args.seed,
        status=not args.no_status,
        ca_file=args.ca_file,
        drain_timeout=args.drain_timeout,
        progress_interval=args.progress,
    )

    def error(text: str) -> None:
        problem = T("problem.other", text=text)
        err.print(tr("simulate.error", lang, problem=problem), markup=False, soft_wrap=True)

    problems = opts.check()
    if problems:
        for problem in problems:
            error(problem)
        return 2

    def progress(p: dict) -> None:
        values = {k: p[k] for k in ("published", "planned", "acked", "refused", "inflight")}
        line = tr(
            "fleet.progress",
            lang,
            elapsed=f"{p['elapsed_s']:6.1f}",
            rate=f"{p['batches_per_s']:.1f}",
            lag=f"{p['max_lag_s']:.3f}",
            **values,
        )
        err.print(line, markup=False, soft_wrap=True)

    try:
        summary = run_fleet(opts, progress)
    except ValueError as exc:  # a broker URL or option the checks above did not catch
        error(str(exc))
        return 2
    if args.summary:
        args.summary.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    totals, achieved = summary["totals"], summary["achieved"]
    out = Console(highlight=False)
    title = tr(
        "fleet.title",
        lang,
        gateways=summary["gateways"],
        connections=summary["connections"],
        broker=summary["broker"],
    )
    values = (
        totals["published"],
        totals["acked"],
        totals["refused"],
        totals["unacked"],
        totals["readings_acked"],
        achieved["batches_per_s"],
        achieved["target_batches_per_s"],
        achieved["max_lag_s"],
    )
    headers = [tr(f"fleet.col.{col}", lang) for col in FLEET_COLUMNS]
    print_table(out, title, headers, [tuple(str(v) for v in values)], right=range(len(values)))
    _print_per_gateway(out, summary["per_gateway"], lang)
    failed = {
        g: d["connect_error"] for g, d in summary["per_gateway"].items() if d["connect_error"]
    }
    for gateway, problem in list(failed.items())[:10]:
        text = tr("fleet.connect_failed", lang, gateway=gateway, error=problem)
        err.print(text, markup=False, soft_wrap=True)
    if len(failed) > 10:
        err.print(tr("fleet.more_failed", lang, n=len(failed) - 10), markup=False)
    ok = not failed and totals["unacked"] == 0 and totals["refused"] == 0
    return 0 if ok else 1


FLEET_COLUMNS = (
    "published",
    "acked",
    "refused",
    "unacked",
    "readings_acked",
    "batches_per_s",
    "target_per_s",
    "max_lag_s",
)
GATEWAY_COLUMNS = (
    "gateway",
    "site",
    "published",
    "acked",
    "refused",
    "unacked",
    "readings",
    "acked_seqs",
)


def _print_per_gateway(out, per_gateway: dict[str, dict], lang: str) -> None:
    """Every gateway for small fleets; the spread and the seq check for large ones."""
    from kernel.tables import print_table
    from kernel.text import tr

    if len(per_gateway) <= 20:
        headers = [tr(f"fleet.col.{col}", lang) for col in GATEWAY_COLUMNS]
        rows = []
        for gateway, g in per_gateway.items():
            seqs = ", ".join(f"{a}-{b}" for a, b in g["acked_seq_ranges"]) or "-"
            counts = ("published", "acked", "refused", "unacked", "readings_acked")
            rows.append((gateway, g["site"], *(str(g[k]) for k in counts), seqs))
        print_table(out, tr("fleet.per_gateway", lang), headers, rows, right=range(2, 7))
        return
    acked = [g["acked"] for g in per_gateway.values()]
    contiguous = all(len(g["acked_seq_ranges"]) <= 1 for g in per_gateway.values())
    line = tr(
        "fleet.spread",
        lang,
        low=min(acked),
        high=max(acked),
        contiguous=tr("fleet.yes" if contiguous else "fleet.no", lang),
    )
    out.print(line, markup=False, soft_wrap=True)
