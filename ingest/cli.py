"""``jagajalan ingest run``: one ingest worker, MQTT -> InfluxDB (or the embedded SQLite store).

Every option can also come from an environment variable ``JAGAJALAN_<OPTION>`` (dashes as
underscores: ``--influx-url`` = ``JAGAJALAN_INFLUX_URL``); the command line wins. Secrets are
never options: they come from files (``--mqtt-password-file``, ``--influx-token-file``,
``--influx-password-file``) or from the environment (``JAGAJALAN_MQTT_PASSWORD``,
``JAGAJALAN_INFLUX_TOKEN``, ``JAGAJALAN_INFLUX_PASSWORD``), and are never logged.

Ingest creates nothing in InfluxDB: its user needs WRITE on the database and nothing else.
The database, retention policies, rollups and that user come from ``jagajalan store setup``;
until they exist ingest says what is missing and waits, acknowledging nothing.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from kernel.config import ConfigError
from kernel.mqtt import MqttUrlError, parse_url

if TYPE_CHECKING:
    from store import StoreWriter

log = logging.getLogger("ingest")

SOURCE = "command line"


def _env_name(option: str) -> str:
    return "JAGAJALAN_" + option.lstrip("-").upper().replace("-", "_")


def _option(parser: argparse.ArgumentParser, option: str, help: str, **kwargs: Any) -> None:
    env = _env_name(option)
    default = os.environ.get(env, kwargs.pop("default", None))
    parser.add_argument(option, default=default, help=f"{help} [env {env}]", **kwargs)


def _default_client_id() -> str:
    host = re.sub(r"[^a-z0-9-]", "-", socket.gethostname().lower())[:40]
    return f"jagajalan-ingest-{host}"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("ingest", help="write MQTT readings into the time-series store")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    run = actions.add_parser(
        "run",
        help="run an ingest worker until SIGTERM/SIGINT",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    o = run.add_argument_group("MQTT")
    _option(
        o, "--broker-url", "mqtt://host:port, or mqtts:// for TLS", default="mqtt://127.0.0.1:1883"
    )
    _option(
        o,
        "--mqtt-protocol",
        "MQTT version; auto = 5 unless the broker refuses it",
        choices=["auto", "5", "3.1.1"],
        default="auto",
    )
    _option(o, "--ca-file", "CA certificate(s) for mqtts:// (default: the system's)")
    _option(o, "--mqtt-username", "broker username")
    _option(o, "--mqtt-password-file", "file holding the broker password")
    _option(
        o,
        "--client-id",
        "fixed MQTT client id (the broker keeps its session)",
        default=_default_client_id(),
    )
    _option(o, "--shared-group", "subscribe to readings as $share/<group>/... (scale-out)")
    _option(
        o,
        "--max-inflight",
        "most unacknowledged messages held (MQTT 5 Receive Maximum)",
        type=int,
        default=10_000,
    )
    _option(
        o,
        "--session-expiry",
        "seconds the broker keeps our session while we are away",
        type=int,
        default=7 * 86_400,
    )
    s = run.add_argument_group("store (give --influx-url or --sqlite; the user needs WRITE only)")
    _option(s, "--influx-url", "InfluxDB base URL, e.g. http://127.0.0.1:8086")
    _option(s, "--influx-db", "InfluxDB database", default="jagajalan")
    _option(s, "--influx-token-file", "file holding an InfluxDB 2.x/3.x token")
    _option(s, "--influx-username", "InfluxDB 1.x username")
    _option(s, "--influx-password-file", "file holding the InfluxDB 1.x password")
    _option(s, "--sqlite", "path of the embedded SQLite store instead of InfluxDB")
    _option(
        s,
        "--influx-timeout",
        "seconds to wait for an InfluxDB answer before retrying",
        type=float,
        default=10.0,
    )
    w = run.add_argument_group("writing")
    _option(w, "--batch-size", "write when this many points wait", type=int, default=5000)
    _option(
        w, "--max-delay", "...or when the oldest waited this many seconds", type=float, default=0.2
    )
    _option(
        w, "--retry-max-delay", "longest pause between write retries (s)", type=float, default=5.0
    )
    _option(
        w,
        "--max-attempts",
        "attempts at points the store keeps refusing for a reason neither transient nor about"
        " the points (e.g. HTTP 413) before they are dead-lettered as store_refused",
        type=int,
        default=5,
    )
    _option(
        w,
        "--parallel-writes",
        "InfluxDB writes in flight at once (one HTTP connection each; acknowledged in order)",
        type=int,
        default=2,
    )
    _option(
        w,
        "--drain-timeout",
        "at shutdown, retry the last writes this long (s)",
        type=float,
        default=10.0,
    )
    _option(w, "--metrics-port", "Prometheus /metrics port, 0 = off", type=int, default=0)
    _option(
        w,
        "--leave",
        "retire this worker (its --client-id): unsubscribe, write what its"
        " session still holds, end the session after this many idle seconds, exit",
        type=float,
    )
    run.set_defaults(func=run_command)


def _secret(file_opt: str, path: str | None, env: str, problems: list) -> str | None:
    if path:
        try:
            value = Path(path).read_text(encoding="utf-8").strip("\r\n")
        except OSError as exc:
            problems.append((file_opt, path, f"cannot read: {exc.strerror}"))
            return None
        if not value:
            problems.append((file_opt, path, "file is empty"))
        return value
    return os.environ.get(env) or None


def _check_range(problems: list, option: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        problems.append((option, value, f"must be between {low} and {high}"))


def build(args: argparse.Namespace):
    """Options -> (IngestSettings, StoreWriter). Raises ConfigError listing every problem."""
    from ingest.service import IngestSettings, MqttSettings

    problems: list[tuple[str, Any, str]] = []
    try:
        parse_url(args.broker_url or "")
    except MqttUrlError as exc:
        problems.append(("--broker-url", "(see message)", str(exc)))
    mqtt_password = _secret(
        "--mqtt-password-file", args.mqtt_password_file, "JAGAJALAN_MQTT_PASSWORD", problems
    )
    _check_range(problems, "--batch-size", args.batch_size, 1, 1_000_000)
    _check_range(problems, "--max-delay", args.max_delay, 0.001, 60)
    _check_range(problems, "--max-inflight", args.max_inflight, 1, 65_535)
    _check_range(problems, "--session-expiry", args.session_expiry, 1, 2**32 - 1)
    _check_range(problems, "--metrics-port", args.metrics_port, 0, 65_535)
    _check_range(problems, "--retry-max-delay", args.retry_max_delay, 0.01, 3600)
    _check_range(problems, "--max-attempts", args.max_attempts, 1, 1000)
    _check_range(problems, "--parallel-writes", args.parallel_writes, 1, 16)
    _check_range(problems, "--drain-timeout", args.drain_timeout, 0, 3600)
    _check_range(problems, "--influx-timeout", args.influx_timeout, 0.1, 600)
    if args.leave is not None:
        _check_range(problems, "--leave", args.leave, 0.1, 3600)
    if args.ca_file and not Path(args.ca_file).is_file():
        problems.append(("--ca-file", args.ca_file, "file not found"))
    if not args.client_id:
        problems.append(("--client-id", args.client_id, "must not be empty"))
    store = _store(args, problems)
    if problems:
        if store is not None:
            store.close()
        raise ConfigError(SOURCE, problems)
    mqtt = MqttSettings(
        url=args.broker_url,
        client_id=args.client_id,
        protocol=args.mqtt_protocol,
        ca_file=args.ca_file,
        username=args.mqtt_username,
        password=mqtt_password,
        shared_group=args.shared_group,
        session_expiry=args.session_expiry,
        max_inflight=args.max_inflight,
    )
    settings = IngestSettings(
        mqtt=mqtt,
        batch_size=args.batch_size,
        max_delay=args.max_delay,
        retry_max_delay=args.retry_max_delay,
        max_attempts=args.max_attempts,
        parallel_writes=args.parallel_writes,
        drain_timeout=args.drain_timeout,
        metrics_port=args.metrics_port,
        leave_after_idle=args.leave,
    )
    return settings, store


def _store(args: argparse.Namespace, problems: list) -> StoreWriter | None:
    from store import open_writer  # imported on use: `jagajalan --help` stays fast

    if bool(args.influx_url) == bool(args.sqlite):
        problems.append(("--influx-url/--sqlite", None, "give exactly one of the two"))
        return None
    if args.sqlite:
        return open_writer(sqlite_path=args.sqlite)  # the embedded store: it makes its file
    if urlsplit(args.influx_url).scheme not in ("http", "https"):
        problems.append(("--influx-url", args.influx_url, "must be http://host:port or https://"))
        return None
    token = _secret(
        "--influx-token-file", args.influx_token_file, "JAGAJALAN_INFLUX_TOKEN", problems
    )
    password = _secret(
        "--influx-password-file", args.influx_password_file, "JAGAJALAN_INFLUX_PASSWORD", problems
    )
    return open_writer(
        influx_url=args.influx_url,
        influx_db=args.influx_db,
        influx_token=token,
        influx_username=args.influx_username,
        influx_password=password,
        influx_timeout=args.influx_timeout,
    )


def run_command(args: argparse.Namespace) -> int:
    from ingest.service import IngestService

    settings, store = build(args)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        log.info("%s received: flushing and stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return IngestService(settings, store).run(stop)
    except OSError as exc:  # metrics port taken, CA file unreadable, ...
        log.error("ingest cannot start: %s", exc)
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        store.close()
