"""Compact (v2) against JSON (v1) through the ingest worker, CPU per reading, memory in bytes.

Against a real Mosquitto and a real InfluxDB on this machine's shared cores (``make bench``),
with the backlog method of :mod:`bench.ingest` (the workers' sessions exist, the backlog is
published while they are away, the rate is taken while they drain it):

* readings/s of one and of two workers for batches of 50 readings, JSON and compact, the same
  seeded readings (each compact payload is the JSON one re-encoded), and the ratio
  compact / JSON of one worker: of the best drains, and the median of the rounds' own ratios
  (the encodings take turns going first; every drain and measure waits until InfluxDB has
  finished the compactions the one before left it);
* the worker's CPU time per reading (user + system of the worker process while it drains,
  over the readings acknowledged meanwhile), for both encodings;
* InfluxDB's best accept rate in the same run, and one worker's JSON rate over it: over the
  best of the whole run, and round by round (InfluxDB's best, of 3 and 4 writers, measured
  right before and right after each round's JSON drain; the median of the rounds' ratios),
  since InfluxDB's own rate moves by 10-20 % within a run on these cores;
* what sharing the cores alone costs InfluxDB: each round, InfluxDB's best once more beside a
  process that only spins (bench/cpu_load.py) for as much CPU as the worker and the broker
  used in the round's JSON drain, and the worker's rate over that;
* the peak RSS of a worker with the default settings, for batches of 50 and for a backlog
  of large batches (1,000 readings a message: bytes, not messages, are what fill memory);

and that InfluxDB holds exactly the points published (no loss, no duplicates), every run.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from bench.cpu_load import cpu_load
from bench.ingest_rig import (
    HOUR,
    RawPublisher,
    Workers,
    acked,
    drop_database,
    influx_quiet,
    influx_rate,
    out,
    payload,
)
from bench.procfs import cpu_seconds
from ingest.pipeline import decode_readings
from store.influx import InfluxStore
from telemetry import compact
from telemetry.line_encoder import LineEncoder
from telemetry.mapping import batch_meta_line
from testkit.ingest import start_ingest
from testkit.rates import window_rate
from testkit.services import influxd, mosquitto

GATEWAYS = 200
#: Rounds of one-worker drains of batches of 50 (JSON first in even rounds, compact first in
#: odd ones), InfluxDB's best measured right before and right after each JSON drain; then two
#: workers once per encoding.
ROUNDS = 5
#: Messages of 50 readings a drain: 3 million readings, about 7 s of draining, so that the
#: rate is a steady state's (drains of 20,000 gave ratios a few % higher and more scattered).
MESSAGES = 60_000
TWO_WORKERS = ((2, "json"), (2, "compact"))


def backlog(messages: int, per: int, base: int, encoding: str) -> list[tuple[str, bytes]]:
    out_ = []
    for i in range(messages):
        body = payload(i % GATEWAYS, i // GATEWAYS, per, base)
        if encoding == "compact":
            body = compact.encode(decode_readings(body))
        out_.append((f"jagajalan/v1/bench-{i % GATEWAYS:04d}/readings", body))
    return out_


def influx_now(url: str, lines: list[str], size: int) -> float:
    """InfluxDB's best now, readings/s: 3 or 4 writers of *size*-line writes."""
    return max(influx_rate(url, lines, w, size) for w in (3, 4)) * 50 / 51


def drain(
    work: Path, broker, influx_url: str, workers: int, per: int, messages: int, enc: str, tag=""
):
    """One backlog drained: (readings/s, CPU s per reading, peak RSS MB, counts verified,
    the counts, the cores the workers and the broker used together while draining)."""
    db = f"bench_{enc}_w{workers}_r{per}{tag}"
    group = Workers(work, broker.url, influx_url, db, workers)
    group.start()  # the persistent sessions; then away while the backlog is queued
    group.stop()
    base = (int(time.time() * 1000) // HOUR - 30) * HOUR
    queued = backlog(messages, per, base, enc)  # first: the publisher's keepalive is 60 s
    pub = RawPublisher(broker.port, f"bench-pub-{db}")
    pub.send(queued)
    del queued
    pub.close()
    group.procs = [start_ingest(*a, log=work / f"{db}-{i}.log") for i, a in enumerate(group.args)]
    samples: list[tuple[float, list[float]]] = []
    # (CPU s of all workers, messages acknowledged, CPU s of the broker, time)
    cpu: list[tuple[float, float, float, float]] = []
    deadline = time.monotonic() + 600
    while True:
        counts = [acked(p) for p in group.ports]
        used = sum(cpu_seconds(p.pid) for p in group.procs)
        now = time.perf_counter()
        samples.append((now, counts))
        if all(counts):
            cpu.append((used, sum(counts), cpu_seconds(broker.proc.pid), now))
        if sum(counts) >= messages:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{sum(counts):.0f} of {messages} messages acknowledged")
        time.sleep(0.05)
    rate = window_rate(samples) * per
    (c0, m0, b0, t0), (c1, m1, b1, t1) = cpu[0], cpu[-1]
    per_reading = (c1 - c0) / max(1.0, (m1 - m0) * per)
    feed_cores = (c1 - c0 + b1 - b0) / max(1e-3, t1 - t0)
    rss = max(group.stop())
    store = InfluxStore(influx_url, db)
    counts = (store.count("air_quality"), store.count("gateway_batches"))
    store.close()
    # Counted, then dropped, as InfluxDB's own measures drop theirs: every drain and measure
    # meets the same store, not one that grows by 3 million points a drain.
    drop_database(influx_url, db)
    return rate, per_reading, rss, counts == (messages * per, messages), counts, feed_cores


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="jagajalan-bench-compact-") as tmp:
        work = Path(tmp)
        with (
            mosquitto(work / "mosquitto", persistence=False) as broker,
            influxd(work / "influxd") as influx,
        ):
            out("machine_cpus", float(os.cpu_count() or 0), "(shared with the broker and InfluxDB)")
            out("machine_load_1min", os.getloadavg()[0], "(other work on the machine)")
            base = (int(time.time() * 1000) // HOUR - 30) * HOUR
            sample = backlog(MESSAGES, 50, base, "json")
            encoder, lines = LineEncoder(), []
            for _, body in sample:
                batch = decode_readings(body)
                lines += [*encoder.batch_lines(batch), batch_meta_line(batch)]
            del sample
            # the best of 1, 2 and 4 writers (a worker writes over 3 connections at once:
            # --parallel-writes 3), in writes of 5,000 lines and of ingest's 10,000
            writers = (1, 2, 4)
            rates = {
                (w, n): influx_rate(influx.url, lines, w, n)
                for w in writers
                for n in (5000, 10_000)
            }
            for n in (5000, 10_000):
                of_n = max(rates[(w, n)] for w in writers) * 50 / 51
                out(f"compact_bench_influxdb_accept_{n}_line_writes", of_n, "readings/s")
            best = max(rates.values())
            best_n = max(rates, key=rates.__getitem__)[1]
            b = best * 50 / 51  # readings/s (51 points per batch of 50)
            out("compact_bench_influxdb_accept_best", b, "readings/s (batches of 50)")

            # One worker: JSON and compact drained once per round, the best of the rounds taken
            # for each (a rate moves by +-15 % between two drains on these cores, more than the
            # two encodings differ when InfluxDB sets the pace). A round's ratio: its JSON
            # drain over InfluxDB's best measured right before and right after it (the mean;
            # InfluxDB's own rate drifts within a run), each time the best of 3 and 4 writers
            # (InfluxDB saturates at 3 concurrent writes here; 2 give ~6 % less). Every drain
            # and every measure starts once InfluxDB has finished the compactions the one
            # before left it, and the encodings take turns going first, so neither always
            # follows the other's leftovers.
            runs: dict[tuple[int, str], list] = {}
            measured: list[float] = []  # InfluxDB's best, each time it is measured in a round
            same_round = []
            beside_load: list[float] = []  # the worker's rate over InfluxDB's beside the load
            paired: list[float] = []  # compact / JSON of the same round
            waited = 0.0  # seconds spent waiting for InfluxDB's compactions

            def quiet() -> None:
                nonlocal waited
                waited += influx_quiet(influx.url)

            for r in range(ROUNDS):
                rate_of: dict[str, float] = {}
                for enc in ("json", "compact") if r % 2 == 0 else ("compact", "json"):
                    if enc == "json":
                        quiet()
                        before = influx_now(influx.url, lines, best_n)
                    quiet()
                    got = drain(work, broker, influx.url, 1, 50, MESSAGES, enc, f"_run{r}")
                    runs.setdefault((1, enc), []).append(got)
                    rate_of[enc] = got[0]
                    if enc == "compact":
                        continue
                    quiet()
                    after = influx_now(influx.url, lines, best_n)
                    feed = got[5]  # the cores the worker and the broker used in the drain
                    quiet()
                    with cpu_load(min(1.0, feed)) as load:
                        loaded = influx_now(influx.url, lines, best_n)
                        load_cores = load.cores()
                json_rate = rate_of["json"]
                b = max(b, before, after)  # the run's best: every measure of InfluxDB counts
                measured += [before, after]
                inf = (before + after) / 2
                same_round.append(json_rate / inf)
                beside_load.append(json_rate / loaded)
                paired.append(rate_of["compact"] / json_rate)
                out(
                    f"round{r}_influxdb_best_before_after",
                    inf,
                    f"readings/s ({before:.0f}, {after:.0f})",
                )
                out(f"round{r}_one_worker_json", json_rate, "readings/s")
                out(f"round{r}_one_worker_compact", rate_of["compact"], "readings/s")
                out(f"round{r}_one_worker_json_over_influxdb", same_round[-1])
                out(
                    f"round{r}_influxdb_best_beside_cpu_load",
                    loaded,
                    f"readings/s (a spinning process using {load_cores:.2f} core; the worker and"
                    f" the broker used {feed:.2f} in the drain)",
                )
                out(f"round{r}_one_worker_json_over_influxdb_beside_cpu_load", beside_load[-1])
                out(f"round{r}_compact_over_json", paired[-1], "x")
            del lines
            for workers, enc in TWO_WORKERS:
                quiet()
                got = drain(work, broker, influx.url, workers, 50, MESSAGES, enc, "_run0")
                runs[(workers, enc)] = [got]
            rates = {}
            for (workers, enc), done in runs.items():
                rate, cpu, rss, ok, counts, _ = max(done, key=lambda r: r[0])
                name = f"ingest_{workers}_worker{'s' if workers > 1 else ''}_batch50_{enc}"
                rates[(workers, enc)] = rate
                out(name, rate, f"readings/s (best of {len(done)})")
                cpu = sorted(r[1] for r in done)[len(done) // 2]
                out(
                    f"{name}_cpu_per_reading",
                    cpu * 1e6,
                    f"us (worker CPU s / readings stored, median of {len(done)})",
                )
                out(f"{name}_peak_rss", max(r[2] for r in done), "MB")
                if not all(r[3] for r in done):
                    ok, counts = False, [r[4] for r in done]
                out(f"{name}_counts_verified", "yes" if ok else f"NO {counts}")
            out("compact_over_json_1_worker", rates[(1, "compact")] / rates[(1, "json")], "x")
            out(
                "compact_over_json_1_worker_rounds_median",
                sorted(paired)[len(paired) // 2],
                f"x ({sum(x >= 1.0 for x in paired)} of {len(paired)} rounds at 1.0 or more)",
            )
            out("influxdb_compaction_wait", waited, "s (before the rounds' drains and measures)")
            out("compact_over_json_2_workers", rates[(2, "compact")] / rates[(2, "json")], "x")
            out("one_worker_json_over_influxdb_best", rates[(1, "json")] / b, "(target >= 0.75)")
            # the machine's noise: InfluxDB alone, the same writes, a few seconds apart
            low, high = min(measured), max(measured)
            out("influxdb_best_lowest_over_highest", low / high, f"({low:.0f} to {high:.0f})")
            out(
                "one_worker_json_over_influxdb_same_round_median",
                sorted(same_round)[len(same_round) // 2],
                "(target >= 0.75)",
            )
            above = sum(r >= 0.75 for r in same_round)
            out("one_worker_json_over_influxdb_rounds_at_target", f"{above} of {len(same_round)}")
            out(
                "one_worker_json_over_influxdb_beside_cpu_load_median",
                sorted(beside_load)[len(beside_load) // 2],
                "(1.0: the worker costs InfluxDB only the CPU it and the broker take)",
            )
            out("second_worker_json_gain", rates[(2, "json")] / rates[(1, "json")], "x")
            out("second_worker_compact_gain", rates[(2, "compact")] / rates[(1, "compact")], "x")
            for enc in ("json", "compact"):
                rate, cpu, rss, ok, counts, _ = drain(work, broker, influx.url, 1, 1000, 1_000, enc)
                name = f"ingest_1_worker_batch1000_{enc}"
                out(name, rate, "readings/s")
                out(f"{name}_peak_rss", rss, "MB (target <= 100)")
                out(f"{name}_counts_verified", "yes" if ok else f"NO {counts}")


if __name__ == "__main__":
    main()
