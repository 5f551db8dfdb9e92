"""``make chaos``: the long chaos scenarios over the real stack, one figure a line, and the
figures written into docs/reliability.md (between its ``chaos figures`` markers).

    python -m testkit.chaos [--partition-min 10] [--bad-link-min 10] [--crashes-min 4]
                            [--store-worker-min 4] [--disk-full-min 5] [--clock-min 3]
                            [--clock-unset-min 3] [--soak-min 30] [--soak-gateways 200]
                            [--soak-rate 0.1] [--soak-faults 8] [--soak-seed 15]
                            [--only partition] [--report docs/reliability.md] [--keep]

Needs root (network namespaces), ip, tc, nft, mosquitto and influxd (``make chaos`` installs
them). Exit status 0 when every scenario ended with lost = 0, duplicates = 0 and no secret in
any log; 1 otherwise (the report still shows what was measured); 2 when it cannot run.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path

from testkit import REPO
from testkit.chaos import report
from testkit.chaos.leaks import leaks
from testkit.chaos.rig import ChaosRig, Link, chaos_rig
from testkit.chaos.scenarios import (
    Outcome,
    bad_link,
    clock_jump,
    clock_unset,
    crashes,
    disk_full,
    partition,
    store_and_worker,
)
from testkit.chaos.soak import SoakPlan, fleet_users, soak
from testkit.netns import remove_stale, unavailable
from testkit.services import influxd

Scenario = tuple[str, str, Link, Callable[[ChaosRig], Outcome]]
#: A scenario's own figures that fail it when not 0.
FAIL_FIGURES = (
    "fleet_lost",
    "fleet_duplicates",
    "alerts_missing",
    "alerts_unexpected",
    "alerts_duplicates",
    "services_exited",
)


def scenarios(args: argparse.Namespace) -> list[Scenario]:
    part_s, bad_s, crash_s = args.partition_min * 60, args.bad_link_min * 60, args.crashes_min * 60
    plan = SoakPlan(
        args.soak_min * 60, args.soak_gateways, args.soak_rate, args.soak_seed, args.soak_faults
    )
    soak_link = Link(keepalive=10, workers=3, alerts_after_s=15, users=fleet_users(plan.gateways))
    return [
        (
            "partition",
            "pl",
            Link(keepalive=30, alerts_after_s=15),
            lambda r: partition(r, part_s),
        ),
        (
            "bad_link",
            "bl",
            Link(keepalive=30, delay=2.0, jitter=0.5, alerts_after_s=15),
            lambda r: bad_link(r, bad_s, loss=30, kbit=64),
        ),
        (
            "crashes",
            "cr",
            Link(keepalive=30, alerts_after_s=15),
            lambda r: crashes(r, crash_s),
        ),
        (
            "store_worker",
            "sw",
            Link(keepalive=30, workers=3, alerts_after_s=15),
            lambda r: store_and_worker(r, args.store_worker_min * 60),
        ),
        (
            "disk_full",
            "df",
            Link(keepalive=30, spool_fs_kib=16384, alerts_after_s=15),
            lambda r: disk_full(r, args.disk_full_min * 60, headroom_kib=2048),
        ),
        # Each of the two jumps lasts a third of the time.
        (
            "clock_jump",
            "cj",
            Link(keepalive=30, alerts_after_s=15),
            lambda r: clock_jump(r, args.clock_min * 20),
        ),
        (
            "clock_unset",
            "cu",
            Link(keepalive=30, clock_offset=-time.time() + 60, alerts_after_s=15),  # boots at 1970
            lambda r: clock_unset(r, args.clock_unset_min * 60),
        ),
        ("soak", "sk", soak_link, lambda r: soak(r, plan)),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testkit.chaos", description=__doc__)
    parser.add_argument("--partition-min", type=float, default=10.0, help="minutes (10)")
    parser.add_argument("--bad-link-min", type=float, default=10.0, help="minutes (10)")
    parser.add_argument("--crashes-min", type=float, default=4.0, help="minutes (4)")
    parser.add_argument("--store-worker-min", type=float, default=4.0, help="minutes (4)")
    parser.add_argument("--disk-full-min", type=float, default=5.0, help="minutes (5)")
    parser.add_argument("--clock-min", type=float, default=3.0, help="minutes (3)")
    parser.add_argument("--clock-unset-min", type=float, default=3.0, help="minutes (3)")
    parser.add_argument("--soak-min", type=float, default=30.0, help="minutes (30)")
    parser.add_argument("--soak-gateways", type=int, default=200, help="fleet gateways (200)")
    parser.add_argument("--soak-rate", type=float, default=0.1, help="batches/s a gateway (0.1)")
    parser.add_argument("--soak-faults", type=int, default=8, help="random faults (8)")
    parser.add_argument("--soak-seed", type=int, default=15, help="the faults' seed (15)")
    parser.add_argument("--only", action="append", help="run only this scenario (repeatable)")
    parser.add_argument("--report", type=Path, default=REPO / "docs" / "reliability.md")
    parser.add_argument("--keep", action="store_true", help="keep the run's folder (logs)")
    args = parser.parse_args(argv)
    # SIGTERM (a timeout, a CI cancel) ends the run through the finally blocks: every
    # process stopped, every namespace removed.
    # A cleanup that fails in a finally may replace the SystemExit; the flag still stops
    # the run before the next scenario.
    terminated: list[int] = []

    def on_term(signum: int, frame: object) -> None:
        terminated.append(signum)
        sys.exit(143)

    signal.signal(signal.SIGTERM, on_term)
    reason = unavailable()
    if reason:
        print(f"chaos: cannot run: {reason}", file=sys.stderr)
        return 2
    for name in remove_stale():
        print(f"# removed the namespace {name} a killed run left", flush=True)
    chosen = [s for s in scenarios(args) if not args.only or s[0] in args.only]
    if not chosen:
        print(f"chaos: no scenario named {args.only}", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="jagajalan-chaos-"))
    figures: dict[str, float] = {}
    failed: list[str] = []
    started = time.time()
    try:
        with influxd(tmp / "influxd") as influx:
            for name, tag, link, run in chosen:
                if terminated:
                    return 143
                print(f"# {name}", flush=True)
                work = tmp / name
                try:
                    with chaos_rig(work, influx, f"chaos_{uuid.uuid4().hex[:8]}", tag, link) as rig:
                        outcome = run(rig)
                        found = leaks(rig.log_files(), rig.secrets)
                    results = {**outcome.all_figures(), f"{name}.secrets_in_logs": len(found)}
                    for line in outcome.tally.overwritten[:20]:
                        print(f"# overwritten: {line}", flush=True)
                    for line in found[:20]:
                        print(f"# leak: {line}", flush=True)
                    t = outcome.tally
                    # Readings the full disk refused are the gateway's count, exactly.
                    miscounted = outcome.figures.get("spool_errors", t.refused) != t.refused
                    bad = t.lost or t.duplicates or t.emit_lost or t.emit_refused_stored
                    bad = bad or t.overwritten or outcome.figures.get("points_misplaced", 0)
                    bad = bad or outcome.figures.get("stored_while_unset", 0)
                    bad = bad or any(outcome.figures.get(k, 0) for k in FAIL_FIGURES)
                    if bad or miscounted or found:
                        failed.append(name)
                except Exception:
                    traceback.print_exc()
                    results = {f"{name}.failed": 1}
                    failed.append(name)
                for key, value in results.items():
                    print(f"{key} {value}", flush=True)
                figures.update(results)
    finally:
        if args.keep or failed:
            print(f"# logs kept in {tmp}", flush=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    minutes = round((time.time() - started) / 60, 1)
    label = ", ".join(name for name, *_ in chosen) if args.only else None
    report.write(args.report, figures, minutes, failed, label)
    print(f"# report: {args.report}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
