"""The API's reads of a district on a real InfluxDB (``make bench``; issue 11, section 7).

A real ``influxd`` set up by ``store setup`` (retention policies, continuous queries) is loaded
with a simulated district: :data:`FULL` is 500 gateways, each with an air-quality sensor
(pm25, pm10, temperature, humidity) read every 30 s over the last 24 h and the rest of the
day before (from a UTC midnight: :func:`raw_window`), a batch record a
minute and a status, plus hourly rollups (``rollup_1h``) over 30 days: for the hours the raw
points cover, exactly their aggregates; before them, plausible values. Line protocol is
written in bulk by two writers; the load time is printed.

Then a real ``jagajalan api run`` (uvicorn on loopback, reads open, no rate limit) is asked
through httpx, one request at a time, and each figure is printed with its target, with the
CPU time the API and InfluxDB spent per request (what a request costs whatever else runs on
the machine; the load average is printed at start and end):

- latest values of the whole district (``/readings/latest``, ``/gateways``): p50/p99;
- a 30-day hourly mean of one gateway (from the rollups, the newest hours raw): p50/p99,
  and of the whole district (no target);
- raw pages of the whole district's pm25 (1,000 rows): page 1 and page 1,000 (reached by
  following ``next``), timed alternately;
- a CSV of 1,000,000 raw rows streamed, rows counted, with the peak RSS of a fresh API
  process (VmHWM) before and after.

:func:`run` takes a :class:`Scale`; tests/bench/test_series_bench.py runs it tiny so these
code paths cannot rot.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import httpx

from bench.api_timing import (
    SERVERS,
    Timings,
    cpu_seconds,
    p99,
    settle,
    start_api,
    timed,
    tsm_files_per_shard,
)
from bench.procfs import peak_rss_mb
from testkit import children
from testkit.influx_setup import setup_database
from testkit.services import influxd

MIN, HOUR, DAY = 60_000, 3_600_000, 86_400_000
FIELDS = ("pm25", "pm10", "temperature", "humidity")


@dataclass(frozen=True)
class Scale:
    gateways: int = 500
    raw_hours: int = 24
    #: Raw points from the UTC midnight before the last raw_hours (24 to 48 h): the raw pages
    #: timed are those of the whole past day, a full daily shard (see :func:`raw_window`).
    from_midnight: bool = True
    rollup_days: int = 30
    step_ms: int = 30_000  # one air-quality reading per gateway every step
    csv_rows: int = 1_000_000
    page: int = 1_000  # rows per raw page
    pages: int = 1_000  # the page timed against page 1
    repeats: int = 200  # timed requests per figure
    paced_seconds: float = 15.0  # /readings/latest every 50 ms for this long: 3 refreshes


FULL = Scale()


def out(name: str, value: float, unit: str, target: str = "") -> None:
    shown = f"{value:.0f}" if value >= 100 else f"{value:.1f}"
    print(f"{name} {shown} {unit}{f' (target {target})' if target else ''}", flush=True)


# -- the district -------------------------------------------------------------------------


def gw(i: int) -> str:
    return f"bench-gw-{i:04d}"


def value(field: int, g: int, t: int) -> float:
    """The simulated reading (deterministic, so the rollups can be computed exactly)."""
    k = t // 30_000
    return (field * 17 + g * 7 + k * 13 + (k // 120) * 5) % 97 / 2 + 10 * field


def raw_lines(scale: Scale, start: int, end: int) -> Iterator[list[str]]:
    for t in range(start, end, scale.step_ms):
        chunk = []
        for g in range(scale.gateways):
            fields = ",".join(f"{f}={value(i, g, t)}" for i, f in enumerate(FIELDS))
            chunk.append(f"air_quality,gateway={gw(g)},sensor=env1 {fields} {t}")
            if t % MIN == 0:
                seq = (t - start) // MIN
                chunk.append(f"gateway_batches,gateway={gw(g)} seq={seq}i,readings=2i {t}")
        yield chunk
    yield [
        f'gateway_status,gateway={gw(g)} state="online" {end - 1}' for g in range(scale.gateways)
    ]


def rollup_lines(scale: Scale, start: int, raw_start: int, end: int) -> Iterator[list[str]]:
    """Hourly rollup points (``store.retention``'s fields) of [start, end): computed from
    the raw values from *raw_start* on, made up before it."""
    for hour in range(start, end, HOUR):
        chunk = []
        times = range(max(hour, raw_start), min(hour + HOUR, end), scale.step_ms)
        for g in range(scale.gateways):
            parts = []  # as store.retention's continuous query writes them
            for i, f in enumerate(FIELDS):
                if times:
                    vs = [value(i, g, t) for t in times]
                else:
                    vs = [value(i, g, hour + k * 600_000) for k in range(6)] * 20
                parts.append(
                    f"mean_{f}={sum(vs) / len(vs)},min_{f}={min(vs)},max_{f}={max(vs)},"
                    f"count_{f}={len(vs)}i"
                )
            chunk.append(f"air_quality,gateway={gw(g)},sensor=env1 {','.join(parts)} {hour}")
        yield chunk


def raw_window(scale: Scale, now: int) -> tuple[int, int]:
    """[start, end) of the raw points. A page's cost is the TSM blocks InfluxDB decodes for
    it, one per series: up to 1,000 points each, fewer in the last block of a shard. Over
    only the last 24 h the older daily shard is partial, and page 1 (in it) and page 1,000
    (16.6 h later, in today's) decoded blocks of different sizes whose ratio went with the
    time of day (-23 % to +24 %). From a midnight both pages lie in one full past day."""
    end = now // scale.step_ms * scale.step_ms
    start = end - scale.raw_hours * HOUR
    return (start // DAY * DAY if scale.from_midnight else start), end


def load(url: str, db: str, scale: Scale, now: int) -> tuple[int, float]:
    """Writes the district; (lines, seconds)."""
    raw_start, raw_end = raw_window(scale, now)
    hour = raw_end // HOUR * HOUR
    client = httpx.Client(base_url=url, timeout=120)
    count = 0

    def post(rp: str, lines: list[str]) -> None:
        body = "\n".join(lines).encode()
        r = client.post("/write", params={"db": db, "precision": "ms", "rp": rp}, content=body)
        r.raise_for_status()

    def batches(rp: str, chunks: Iterator[list[str]], size: int = 10_000):
        nonlocal count
        pending: list[str] = []
        for chunk in chunks:
            pending += chunk
            while len(pending) >= size:
                count += size
                yield rp, pending[:size]
                pending = pending[size:]
        count += len(pending)
        if pending:
            yield rp, pending

    started = time.perf_counter()
    rollups = rollup_lines(scale, hour - scale.rollup_days * DAY, raw_start, hour)
    work = [
        *batches("rollup_1h", rollups),
        *batches("raw", raw_lines(scale, raw_start, raw_end)),
    ]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda job: post(*job), work))
    client.close()
    return count, time.perf_counter() - started


# -- the API ------------------------------------------------------------------------------


def iso(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def run(scale: Scale, work: Path) -> dict[str, float]:
    """Loads, measures and prints; the figures by name (also for the tiny test)."""
    figures: dict[str, float] = {}

    def show(name: str, v: float, unit: str, target: str = "") -> None:
        figures[name] = v
        out(name, v, unit, target)

    now = int(time.time() * 1000)
    show("machine_load_average_1min_at_start", os.getloadavg()[0], f"(on {os.cpu_count()} CPUs)")
    # A shard goes cold 2 s after its last write and is then compacted fully, as InfluxDB does
    # by itself 4 h after (its default): the 24 h timed here are laid out as in a running
    # district, where every hour but the newest is compacted, whatever the time of day.
    with influxd(work / "influxd", cold_after="2s") as influx:
        db = "bench_district"
        setup_database(influx.url, db)
        lines, seconds = load(influx.url, db, scale, now)
        show("district_load_lines", float(lines), "lines")
        show("district_load_seconds", seconds, "s")
        show("district_load_rate", lines / seconds, "lines/s")
        show("influxdb_settle_seconds", settle(influx.proc.pid), "s (compactions after the load)")
        show("influxdb_tsm_files_per_shard", tsm_files_per_shard(work / "influxd" / "data"), "")
        proc, base = start_api(influx.url, db, work / "api.log")
        SERVERS[:] = [proc.pid, influx.proc.pid]
        try:
            with httpx.Client(base_url=base, timeout=120) as client:
                measure(client, scale, now, show)
            show("api_peak_rss_after_reads", peak_rss_mb(proc.pid), "MB")
        finally:
            children.stop(proc)
        proc, base = start_api(influx.url, db, work / "api-csv.log")
        try:
            show("csv_api_rss_before", peak_rss_mb(proc.pid), "MB")
            rows, seconds = csv_rows(base, scale, now)
            if rows != scale.csv_rows:
                raise AssertionError(f"CSV had {rows} rows, not {scale.csv_rows}")
            show("csv_rows", float(rows), "rows")
            show("csv_rows_per_second", rows / seconds, "rows/s")
            show("csv_api_peak_rss", peak_rss_mb(proc.pid), "MB", "< 150 MB")
        finally:
            children.stop(proc)
    show("machine_load_average_1min_at_end", os.getloadavg()[0], f"(on {os.cpu_count()} CPUs)")
    return figures


def measure(client: httpx.Client, scale: Scale, now: int, show) -> None:
    n = scale.repeats
    for name, path in (("readings_latest", "/readings/latest"), ("gateways", "/gateways")):
        ms = timed(client, lambda _, p=path: p, n)
        show(f"{name}_district_p50", statistics.median(ms), "ms")
        show(f"{name}_district_p99", p99(ms), "ms", "< 50 ms")
        show(f"{name}_district_server_cpu", ms.cpu_ms, ms.cpu_text())
        if len(client.get(path).json()) < scale.gateways:
            raise AssertionError(f"{path} does not list every gateway")
    paced(client, scale, show)
    span = f"start={iso(now - scale.rollup_days * DAY)}&end={iso(now)}"
    hourly = f"/series?measurement=air_quality&field=pm25&window=1h&agg=mean&{span}"

    def one(i: int) -> str:
        return f"{hourly}&gateway={gw(i % scale.gateways)}"

    points = len(client.get(one(0)).json()["points"])
    if points < scale.rollup_days * 24:
        raise AssertionError(f"a 30-day hourly series had {points} points")
    ms = timed(client, one, n)
    show("series_30d_hourly_gateway_p50", statistics.median(ms), "ms")
    show("series_30d_hourly_gateway_p99", p99(ms), "ms", "< 300 ms")
    show("series_30d_hourly_gateway_server_cpu", ms.cpu_ms, ms.cpu_text())
    ms = timed(client, lambda _: hourly, max(5, n // 20))
    show("series_30d_hourly_district_p50", statistics.median(ms), "ms")
    show("series_30d_hourly_district_p99", p99(ms), "ms")
    raw_start, _ = raw_window(scale, now)
    first = (
        f"/series?measurement=air_quality&field=pm25&start={iso(raw_start)}"
        f"&end={iso(now)}&limit={scale.page}"
    )
    url, walked = first, time.perf_counter()
    for page in range(2, scale.pages + 1):
        url = client.get(url).json()["next"]
        if url is None:
            raise AssertionError(f"no page {page}")
    show("series_walk_to_page_n_seconds", time.perf_counter() - walked, "s")
    after = client.get(url).json()["next"]  # the page after page n, for the block figure
    if after is None:
        raise AssertionError(f"no page {scale.pages + 1}")
    # In turn, so that a change in the machine's load weighs on all alike.
    urls = (first, url, after)
    all3 = timed(client, lambda i: urls[i % 3], 3 * n)
    ms1, msn, msa = all3[0::3], all3[1::3], all3[2::3]
    show("series_raw_page_1_p50", statistics.median(ms1), "ms")
    show(f"series_raw_page_{scale.pages}_p50", statistics.median(msn), "ms")
    show(f"series_raw_page_{scale.pages + 1}_p50", statistics.median(msa), "ms")
    show("series_raw_page_server_cpu", all3.cpu_ms, all3.cpu_text())
    ratio = statistics.median(msn) / statistics.median(ms1)
    show(f"series_raw_page_{scale.pages}_vs_page_1", (ratio - 1) * 100, "%", "within 20 %")
    # Page 1 starts a TSM block of every series (1,000 points), page 1,000 ends one (its
    # reads decode the next block too), page 1,001 starts the next: what a page costs
    # follows where it falls in InfluxDB's blocks, not its number (docs/scaling.md).
    ratio = statistics.median(msa) / statistics.median(ms1)
    show(f"series_raw_page_{scale.pages + 1}_vs_page_1", (ratio - 1) * 100, "%")


def paced(client: httpx.Client, scale: Scale, show) -> None:
    """/readings/latest every 50 ms over several refreshes of the API's latest values (every
    5 s on InfluxDB): the p99 includes requests answered while a refresh runs, and the CPU per
    request includes the refreshes' share."""
    ms, ages = Timings(), []
    cpu = [cpu_seconds([pid]) for pid in SERVERS]
    end = time.monotonic() + scale.paced_seconds
    while time.monotonic() < end:
        started = time.perf_counter()
        r = client.get("/readings/latest")
        ms.append((time.perf_counter() - started) * 1000)
        r.raise_for_status()
        ages.append(float(r.headers.get("x-latest-age", "nan")))
        time.sleep(max(0.0, 0.05 - (time.perf_counter() - started)))  # pacing, not waiting
    ms.cpu = [(cpu_seconds([p]) - c) * 1000 / len(ms) for p, c in zip(SERVERS, cpu, strict=True)]
    refreshes = sum(1 for a, b in pairwise(ages) if b < a)
    show("readings_latest_paced_requests", len(ms), f"requests, {refreshes} refreshes seen")
    show("readings_latest_paced_p50", statistics.median(ms), "ms")
    show("readings_latest_paced_p99", p99(ms), "ms", "< 50 ms")
    show("readings_latest_paced_server_cpu", ms.cpu_ms, ms.cpu_text())
    show("readings_latest_paced_max_age", max(ages), "s", "<= 5 s + one read")


def csv_rows(base: str, scale: Scale, now: int) -> tuple[int, float]:
    """Streams the CSV of the district's pm25 over the span that holds csv_rows rows."""
    raw_start, _ = raw_window(scale, now)
    end = raw_start + scale.csv_rows // scale.gateways * scale.step_ms
    url = (
        f"{base}/series?measurement=air_quality&field=pm25&start={iso(raw_start)}"
        f"&end={iso(end)}&format=csv"
    )
    rows, started = -1, time.perf_counter()  # the header is no row
    with httpx.stream("GET", url, timeout=600) as r:
        r.raise_for_status()
        for chunk in r.iter_bytes():
            rows += chunk.count(b"\n")
    return rows, time.perf_counter() - started


def main(scale: Scale = FULL) -> None:
    with tempfile.TemporaryDirectory(prefix="jj-bench-series-") as tmp:
        run(scale, Path(tmp))


if __name__ == "__main__":
    main()
