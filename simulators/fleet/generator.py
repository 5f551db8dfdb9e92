"""Fleet load generator: many gateways publishing real batches to a broker, and an exact
account of what was sent.

This module holds the pure parts: options, the credentials file, which gateway publishes on
which connection, the batches (real codec, real growing per-gateway ``seq``, values from the
scenario engine) and the bookkeeping that becomes the summary. The network side (asyncio +
paho-mqtt, one event loop for every connection) is :mod:`simulators.fleet.mqtt`.

Credentials file: one gateway a line, ``<gateway-id>:<password>`` (``#`` comments and blank
lines allowed). The same file, copied, becomes a Mosquitto password file with
``mosquitto_passwd -U <copy>``. With per-gateway credentials every gateway has its own
connection (the ACL ``pattern write jagajalan/v1/%u/readings`` lets a user write only its own
topics). Without credentials, ``connections`` < ``gateways`` multiplexes several gateways on
one connection; that works only where the broker's ACL lets one client write to several
gateways' topics (anonymous test brokers, or a dedicated load-test user).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kernel.config import ConfigError
from kernel.times import wib_day, wib_midnight
from simulators.scenario.engine import Scenario, ScenarioClock, SensorValues
from telemetry import topics
from telemetry.codec import ENCODINGS, encode_batch
from telemetry.models import Batch, Reading

DEFAULT_SCENARIO = "normal_day"


@dataclass(frozen=True)
class FleetOptions:
    rate: float  # batches per second per gateway
    duration: float  # seconds of publishing
    gateways: int | None = None  # None: every gateway of the credentials file
    broker_url: str = "mqtt://127.0.0.1:1883"
    batch_size: int = 10  # readings per batch
    encoding: str = "json"
    credentials: Path | None = None
    connections: int | None = None  # None: one per gateway
    protocol: str = "auto"
    prefix: str = "fleet"
    seq_start: int = 0
    scenario: str | None = None
    speed: float | None = None  # scenario clock speed (default: the scenario's own)
    seed: int | None = None
    status: bool = True  # publish retained online/offline status per gateway
    ca_file: Path | None = None
    drain_timeout: float = 15.0  # seconds to wait for the last PUBACKs
    connect_timeout: float = 30.0
    progress_interval: float = 5.0

    def check(self) -> list[str]:
        problems = []
        if not (self.rate > 0 and math.isfinite(self.rate)):
            problems.append(f"--rate must be a positive number of batches/s, got {self.rate}")
        if not self.duration > 0:
            problems.append(f"--duration must be more than 0 s, got {self.duration}")
        if self.gateways is not None and self.gateways < 1:
            problems.append(f"--gateways must be at least 1, got {self.gateways}")
        if self.gateways is None and self.credentials is None:
            problems.append("give --gateways N, or --credentials FILE to use its gateways")
        if not 1 <= self.batch_size <= 10_000:
            problems.append(f"--batch-size must be 1-10000 readings, got {self.batch_size}")
        if self.connections is not None and self.connections < 1:
            problems.append(f"--connections must be at least 1, got {self.connections}")
        if self.credentials is not None and self.connections is not None:
            problems.append(
                "--connections cannot be combined with --credentials: with per-gateway "
                "credentials every gateway needs its own connection (the broker ACL lets a "
                "user write only below jagajalan/v1/<its id>/)"
            )
        if self.encoding not in ENCODINGS:
            problems.append(f"--encoding {self.encoding!r} unknown; choose one of {ENCODINGS}")
        if not topics.valid_id(f"{self.prefix}-0001"):
            problems.append(f"--prefix {self.prefix!r} does not make valid gateway ids")
        elif topics.reserved_id(f"{self.prefix}-0001"):
            problems.append(
                f"--prefix {self.prefix!r} makes reserved ids:"
                f" {topics.reserved_reason(self.prefix + '-0001')}"
            )
        if self.seq_start < 0:
            problems.append(f"--seq-start must be >= 0, got {self.seq_start}")
        return problems


def read_credentials(path: Path) -> dict[str, str]:
    """``gateway:password`` lines -> {gateway: password}, in file order. Raises ConfigError
    naming file, line and problem (never showing a password)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, [("(file)", str(path), "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, [("(file)", str(path), f"cannot read: {exc}")]) from None
    found: dict[str, str] = {}
    problems: list[tuple[str, Any, str]] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        gateway, sep, password = line.partition(":")
        gateway = gateway.strip()
        if not sep or not password:
            problems.append((f"line {n}", gateway, "expected <gateway-id>:<password>"))
        elif not topics.valid_id(gateway):
            problems.append((f"line {n}", gateway, f"not a gateway id ({topics.ID_PATTERN})"))
        elif topics.reserved_id(gateway):
            problems.append((f"line {n}", gateway, topics.reserved_reason(gateway)))
        elif gateway in found:
            problems.append((f"line {n}", gateway, "gateway listed twice"))
        else:
            found[gateway] = password
    if not found and not problems:
        problems.append(("(file)", str(path), "no gateway:password lines"))
    if problems:
        raise ConfigError(path, problems)
    return found


def gateway_ids(opts: FleetOptions, credentials: dict[str, str] | None) -> list[str]:
    if credentials is not None:
        ids = list(credentials)
        if opts.gateways is not None:
            if opts.gateways > len(ids):
                raise ConfigError(
                    opts.credentials or "credentials",
                    [("(file)", len(ids), f"--gateways {opts.gateways} needs that many lines")],
                )
            ids = ids[: opts.gateways]
        return ids
    width = max(4, len(str(opts.gateways)))
    return [f"{opts.prefix}-{i:0{width}d}" for i in range(1, (opts.gateways or 0) + 1)]


def plan_connections(ids: list[str], connections: int | None) -> list[list[str]]:
    """Gateways per connection: round robin over min(connections, gateways) connections."""
    n = min(connections or len(ids), len(ids))
    return [ids[k::n] for k in range(n)]


# -- what is sent --------------------------------------------------------------------------
class BatchSource:
    """The batches of every gateway, a pure function of (gateway, batch number).

    Gateway *i* uses scenario site *i* mod (number of sites). Its sensors (one reading each
    per sample point: air quality, weather, water level where the site floods, road surface,
    one traffic reading per lane) are sampled every ``point_span`` scenario seconds, so that a
    batch of ``batch_size`` readings covers exactly ``1/rate`` real seconds of its clock; the
    readings of batch *j* end at the scenario time at which batch *j* is due.
    """

    def __init__(
        self, scenario: Scenario, clock: ScenarioClock, opts: FleetOptions, ids: list[str]
    ) -> None:
        self.scenario = scenario
        self.clock = clock
        self.batch_size = opts.batch_size
        self.encoding = opts.encoding
        self.period = 1.0 / opts.rate  # real seconds between two batches of a gateway
        sites = list(scenario.sites)
        self.site_of = {gw: sites[i % len(sites)] for i, gw in enumerate(ids)}
        self.kinds = {s: len(scenario.readings(s, scenario.start, 60.0)) for s in sites}
        self._last: dict[str, tuple[int, list[SensorValues]]] = {}

    def warm_up(self) -> None:
        """Compute what the first batches need (the scenario's integrated grid)."""
        t = self.clock.scenario_time(self.clock.real_origin)
        for site in self.kinds:
            self.scenario.readings(site, t, 60.0)

    def point_span(self, gateway: str) -> float:
        """Scenario seconds between two sample points of a gateway's sensors."""
        kinds = self.kinds[self.site_of[gateway]]
        return self.period * self.clock.speed * kinds / self.batch_size

    def build(self, gateway: str, j: int, seq: int, first_due_real: float) -> tuple[bytes, int]:
        """Batch number *j* (0-based) of *gateway* with sequence number *seq*; the gateway's
        first batch was due at real time *first_due_real*."""
        site = self.site_of[gateway]
        kinds = self.kinds[site]
        span = self.point_span(gateway)
        end0 = self.clock.scenario_time(first_due_real)  # readings of batch 0 end here
        begin = end0 - self.period * self.clock.speed
        readings = []
        for r in range(j * self.batch_size, (j + 1) * self.batch_size):
            point, kind = divmod(r, kinds)
            t = begin + (point + 1) * span
            cached = self._last.get(gateway)
            if cached is None or cached[0] != point:
                cached = (point, self.scenario.readings(site, t, span))
                self._last[gateway] = cached
            sv = cached[1][kind]
            readings.append(
                Reading(
                    sensor=sv.sensor,
                    measurement=sv.measurement,
                    time=round(t * 1000),
                    fields=sv.fields,
                    tags=sv.tags,
                )
            )
        batch = Batch(gateway=gateway, seq=seq, sent=round(time.time() * 1000), readings=readings)
        return encode_batch(batch, self.encoding), len(readings)  # type: ignore[arg-type]


def fleet_scenario(opts: FleetOptions, now: float) -> Scenario:
    """The scenario of a run (raises ConfigError for a bad file, before anything connects).
    Without ``--scenario``: ``normal_day`` re-anchored to today (WIB)."""
    if opts.scenario is None:
        return Scenario.load(DEFAULT_SCENARIO, seed=opts.seed, start=wib_midnight(wib_day(now)))
    return Scenario.load(opts.scenario, seed=opts.seed)


def fleet_clock(opts: FleetOptions, scenario: Scenario, real_t0: float) -> ScenarioClock:
    """Without ``--scenario`` the clock is the wall clock (readings carry the current time);
    with one, the scenario starts at *real_t0* at its own speed (or ``--speed``)."""
    if opts.scenario is None:
        return ScenarioClock(real_t0, opts.speed or 1.0, real_origin=real_t0)
    return ScenarioClock(scenario.start, opts.speed or scenario.speed, real_origin=real_t0)


# -- bookkeeping ---------------------------------------------------------------------------
@dataclass
class GatewayStats:
    gateway: str
    connection: int
    site: str
    seq_next: int
    published: int = 0
    acked: int = 0
    refused: int = 0
    readings_published: int = 0
    readings_acked: int = 0
    bytes_acked: int = 0
    seq_first: int | None = None
    seq_last: int | None = None
    acked_seqs: list[int] = field(default_factory=list)
    refused_reasons: dict[str, int] = field(default_factory=dict)
    connect_error: str | None = None

    def on_published(self, seq: int, readings: int) -> None:
        self.published += 1
        self.readings_published += readings
        self.seq_first = seq if self.seq_first is None else self.seq_first
        self.seq_last = seq

    def on_ack(self, seq: int, readings: int, size: int, failure: str | None) -> None:
        if failure is None:
            self.acked += 1
            self.readings_acked += readings
            self.bytes_acked += size
            self.acked_seqs.append(seq)
        else:
            self.refused += 1
            self.refused_reasons[failure] = self.refused_reasons.get(failure, 0) + 1

    @property
    def unacked(self) -> int:
        return self.published - self.acked - self.refused

    def summary(self) -> dict[str, Any]:
        return {
            "connection": self.connection,
            "site": self.site,
            "published": self.published,
            "acked": self.acked,
            "refused": self.refused,
            "unacked": self.unacked,
            "readings_published": self.readings_published,
            "readings_acked": self.readings_acked,
            "bytes_acked": self.bytes_acked,
            "seq_first": self.seq_first,
            "seq_last": self.seq_last,
            "acked_seq_ranges": ranges(self.acked_seqs),
            "refused_reasons": dict(self.refused_reasons),
            "connect_error": self.connect_error,
        }


def ranges(values: list[int]) -> list[list[int]]:
    """[0, 1, 2, 5, 6] -> [[0, 2], [5, 6]]."""
    out: list[list[int]] = []
    for v in sorted(set(values)):
        if out and v == out[-1][1] + 1:
            out[-1][1] = v
        else:
            out.append([v, v])
    return out


def fleet_summary(
    opts: FleetOptions,
    stats: list[GatewayStats],
    run: dict[str, Any],
    window: float,
    max_lag: float,
) -> dict[str, Any]:
    """The JSON summary: exactly what was sent and acknowledged (docs/simulators.md)."""
    acked = sum(g.acked for g in stats)
    totals = {
        "published": sum(g.published for g in stats),
        "acked": acked,
        "refused": sum(g.refused for g in stats),
        "unacked": sum(g.unacked for g in stats),
        "readings_published": sum(g.readings_published for g in stats),
        "readings_acked": sum(g.readings_acked for g in stats),
        "bytes_acked": sum(g.bytes_acked for g in stats),
        "gateways_failed_to_connect": sum(1 for g in stats if g.connect_error),
    }
    return {
        **run,
        "encoding": opts.encoding,
        "gateways": len(stats),
        "rate_per_gateway": opts.rate,
        "duration_s": opts.duration,
        "batch_size": opts.batch_size,
        "totals": totals,
        "achieved": {
            "target_batches_per_s": round(len(stats) * opts.rate, 3),
            "batches_per_s": round(acked / window, 2) if window > 0 else 0.0,
            "readings_per_s": round(totals["readings_acked"] / window, 1) if window > 0 else 0.0,
            "window_s": round(window, 3),
            "max_lag_s": round(max_lag, 3),
        },
        "per_gateway": {g.gateway: g.summary() for g in stats},
    }
