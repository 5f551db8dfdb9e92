"""The network side of the fleet generator: every MQTT connection on one asyncio event loop.

Each connection is a paho-mqtt client (the same client, MQTT 5 / 3.1.1 negotiation and
Last Will as the gateway, :mod:`kernel.mqtt`) driven through paho's external-loop
interface: its socket is registered with the event loop (``on_socket_open`` /
``on_socket_register_write``), the loop calls ``loop_read`` / ``loop_write`` when the socket is
ready, and a 1 s task calls ``loop_misc`` for keepalives. So 500 connections cost 500 sockets
and no threads (paho's ``loop_start`` would start a thread per connection); the blocking TCP
(and TLS) connects run in a small thread pool.

Publishing follows a fixed schedule: gateway *i* of *n* sends batch *j* at
``t0 + i / (n * rate) + j / rate``, so the load is spread evenly; when the loop falls behind it
publishes late rather than skipping, and the largest delay is reported (``max_lag_s``).
Every batch is QoS 1; it counts as sent only when its PUBACK arrives with a success code
(a refusal, e.g. "Not authorized" from the broker's ACL under MQTT 5, is counted apart).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import paho.mqtt.client as mqtt

from kernel import __version__
from kernel.mqtt import Tls, negotiate_protocol, new_client, parse_url, unheard
from simulators.fleet.connection import Connection, raise_fd_limit
from simulators.fleet.generator import (
    BatchSource,
    FleetOptions,
    GatewayStats,
    fleet_clock,
    fleet_scenario,
    fleet_summary,
    gateway_ids,
    plan_connections,
    read_credentials,
)
from telemetry import topics
from telemetry.codec import encode_status
from telemetry.models import Status

log = logging.getLogger(__name__)

KEEPALIVE = 60
Progress = Callable[[dict[str, Any]], None]


class FleetRun:
    def __init__(self, opts: FleetOptions, progress: Progress | None = None) -> None:
        problems = opts.check()
        if problems:
            raise ValueError("; ".join(problems))
        self.opts = opts
        self.progress = progress
        self.address = parse_url(opts.broker_url)
        self.tls = Tls(ca_file=str(opts.ca_file)) if opts.ca_file else None
        self.credentials = read_credentials(opts.credentials) if opts.credentials else None
        self.ids = gateway_ids(opts, self.credentials)
        self.plan = plan_connections(self.ids, opts.connections)
        self.scenario = fleet_scenario(opts, time.time())
        self.protocol = "5"
        self.stats: dict[str, GatewayStats] = {}
        self.conns: list[Connection] = []
        self.max_lag = 0.0
        self.t0 = 0.0
        self.last_ack = 0.0
        self.started_utc = ""
        self.scenario_name: str | None = None
        self.speed: float | None = None
        self.seed: int | None = None
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._pool = ThreadPoolExecutor(
            max_workers=min(32, len(self.plan)), thread_name_prefix="fleet-connect"
        )

    # -- paho <-> asyncio ------------------------------------------------------------------
    def _call(self, fn: Callable[..., Any], *args: Any) -> None:
        assert self._loop is not None
        if threading.get_ident() == self._loop_thread:
            fn(*args)
        else:
            self._loop.call_soon_threadsafe(fn, *args)

    def _attach(self, conn: Connection) -> None:
        loop = self._loop
        assert loop is not None
        c = conn.client

        # A socket opened in a connect thread may be closed again before the loop gets to
        # watching it: only live sockets are added; removing a closed one is a no-op.
        def read(sock: Any) -> None:
            if sock.fileno() != -1:
                loop.add_reader(sock, c.loop_read)

        def write(sock: Any) -> None:
            if sock.fileno() != -1:
                loop.add_writer(sock, c.loop_write)

        def stop_writing(sock: Any) -> None:
            with contextlib.suppress(ValueError, OSError):
                loop.remove_writer(sock)

        def forget(sock: Any) -> None:
            with contextlib.suppress(ValueError, OSError):
                loop.remove_reader(sock)
            stop_writing(sock)

        c.on_socket_open = lambda _cl, _u, sock: self._call(read, sock)
        c.on_socket_close = lambda _cl, _u, sock: self._call(forget, sock)
        c.on_socket_register_write = lambda _cl, _u, sock: self._call(write, sock)
        c.on_socket_unregister_write = lambda _cl, _u, sock: self._call(stop_writing, sock)
        c.on_connect = lambda *a: self._on_connect(conn, *a)
        c.on_disconnect = lambda *a: self._on_disconnect(conn, *a)
        c.on_publish = lambda *a: self._on_publish(conn, *a)

    def _on_connect(self, conn: Connection, _c, _u, _flags, reason, _props=None) -> None:
        if reason.is_failure:
            hint = " (wrong username or password?)" if reason.value in (134, 135) else ""
            conn.error = f"broker refused the connection: {reason}{hint}"
            conn.closing = True  # wrong credentials do not get better by retrying
        else:
            conn.connected = True
            conn.error = None
            if self.opts.status:
                for gw in conn.gateways:
                    self._publish_status(conn, gw.gateway, "online")
        if conn.first_answer is not None and not conn.first_answer.done():
            conn.first_answer.set_result(None)

    def _on_disconnect(self, conn: Connection, _c, _u, _flags, reason, _props=None) -> None:
        conn.connected = False
        if conn.closing or self._stopping:
            return
        if conn.reconnecting:
            # Lost again before the running reconnect ended (the broker refused a re-sent
            # publish and closed at once): that reconnect starts another when it ends, or this
            # connection would stay down with its batches unanswered.
            conn.lost_while_reconnecting = True
            return
        log.warning("connection %d lost (%s); reconnecting", conn.index, reason)
        self._start_reconnect(conn)

    def _start_reconnect(self, conn: Connection) -> None:
        assert self._loop is not None
        conn.reconnecting = True  # one reconnect at a time: a second would close the first
        conn.lost_while_reconnecting = False
        self._loop.create_task(self._reconnect(conn))

    def _on_publish(self, conn: Connection, _c, _u, mid: int, reason, _props=None) -> None:
        entry = conn.inflight.pop(mid, None)
        if entry is None or entry[0] is None:
            return  # a status message
        gw, seq, readings, size = entry
        # "No matching subscribers" (0x10) is no delivery: counted with the refusals, not acked,
        # so that acked readings are the ones ingest can have stored (a fleet has no spool).
        failed = reason.is_failure or unheard(reason)
        gw.on_ack(seq, readings, size, str(reason) if failed else None)
        self.last_ack = time.monotonic()

    async def _reconnect(self, conn: Connection) -> None:
        """Reconnect with backoff; paho then re-sends the batches still awaiting a PUBACK
        (same mid and seq), so a lost connection delays batches but does not lose them."""
        delay = 1.0
        try:
            while not (conn.closing or self._stopping or conn.connected):
                await asyncio.sleep(delay)
                try:
                    loop = asyncio.get_running_loop()
                    await loop.run_in_executor(self._pool, conn.client.reconnect)
                    return
                except OSError as exc:
                    log.warning("connection %d: reconnect failed: %s", conn.index, exc)
                    delay = min(delay * 2, 30.0)
        finally:
            conn.reconnecting = False
            if conn.lost_while_reconnecting and not (conn.closing or self._stopping):
                self._start_reconnect(conn)

    def _publish_status(self, conn: Connection, gateway: str, state: str) -> None:
        status = Status(
            gateway=gateway, state=state, time=round(time.time() * 1000), version=__version__
        )
        info = conn.client.publish(topics.status(gateway), encode_status(status), 1, retain=True)
        conn.inflight[info.mid] = (None, 0, 0, 0)

    # -- the run ---------------------------------------------------------------------------
    async def run(self) -> dict[str, Any]:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        raise_fd_limit(len(self.plan) + 64)
        user = self.ids[0] if self.credentials else None
        self.protocol = await self._loop.run_in_executor(
            self._pool,
            lambda: negotiate_protocol(
                self.address,
                self.opts.protocol,
                username=user,  # type: ignore[arg-type]
                password=self.credentials[user] if self.credentials and user else None,
                tls=self.tls,
            ),
        )
        misc = self._loop.create_task(self._misc())
        try:
            await self._connect_all()
            active = [gw for gw in self.stats.values() if gw.connect_error is None]
            if active:
                await self._publish_all(active)
                await self._drain(self.opts.drain_timeout)
        finally:
            await self._close_all()
            misc.cancel()
            self._pool.shutdown(wait=False)
        return self.summary()

    async def _connect_all(self) -> None:
        loop = asyncio.get_running_loop()
        dedicated = all(len(g) == 1 for g in self.plan)
        for k, gws in enumerate(self.plan):
            client_id = gws[0] if dedicated else f"{self.opts.prefix}-conn-{k:04d}"
            password = self.credentials[gws[0]] if self.credentials else None
            client = new_client(
                client_id,
                self.protocol,  # type: ignore[arg-type]
                username=gws[0] if self.credentials else None,
                password=password,
                address=self.address,
                tls=self.tls,
            )
            if dedicated and self.opts.status:
                offline = Status(gateway=gws[0], state="offline")
                client.will_set(topics.status(gws[0]), encode_status(offline), 1, retain=True)
            stats = [GatewayStats(g, k, "", self.opts.seq_start) for g in gws]
            for s in stats:
                self.stats[s.gateway] = s
            conn = Connection(k, stats, client)
            conn.first_answer = loop.create_future()
            self._attach(conn)
            self.conns.append(conn)
        host, port = self.address.host, self.address.port

        async def connect(conn: Connection) -> None:
            try:
                await loop.run_in_executor(self._pool, conn.client.connect, host, port, KEEPALIVE)
                assert conn.first_answer is not None
                await asyncio.wait_for(asyncio.shield(conn.first_answer), self.opts.connect_timeout)
            except TimeoutError:
                conn.error = (
                    f"no answer (CONNACK) from {self.address} within "
                    f"{self.opts.connect_timeout:g} s"
                )
            except OSError as exc:
                conn.error = f"cannot connect to {self.address}: {exc.strerror or exc}"
            if conn.error is not None:
                conn.closing = True
                for gw in conn.gateways:
                    gw.connect_error = conn.error

        await asyncio.gather(*(connect(c) for c in self.conns))

    async def _publish_all(self, active: list[GatewayStats]) -> None:
        opts = self.opts
        loop = asyncio.get_running_loop()
        period = 1.0 / opts.rate
        n = len(active)
        per_gateway = max(1, round(opts.duration * opts.rate))
        total = n * per_gateway
        conn_of = {c.index: c for c in self.conns}
        real_t0 = time.time() + 1.0
        scenario = self.scenario
        clock = fleet_clock(opts, scenario, real_t0)
        source = BatchSource(scenario, clock, opts, [g.gateway for g in self.stats.values()])
        source.warm_up()  # the first day of the scenario's grid, before the clock starts
        self.t0 = loop.time() + max(real_t0 - time.time(), 0.0)
        for gw in self.stats.values():
            gw.site = source.site_of[gw.gateway]
        self.started_utc = (
            dt.datetime.fromtimestamp(real_t0, dt.UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )
        self.scenario_name, self.speed, self.seed = scenario.name, clock.speed, scenario.seed
        report = loop.create_task(self._report(total))
        self.last_ack = time.monotonic()
        try:
            for k in range(total):
                i, j = k % n, k // n
                due = self.t0 + i * period / n + j * period
                wait = due - loop.time()
                if wait > 0.002:
                    await asyncio.sleep(wait)
                elif k % 64 == 0:
                    await asyncio.sleep(0)  # let PUBACKs in while catching up
                self.max_lag = max(self.max_lag, loop.time() - due)
                gw = active[i]
                conn = conn_of[gw.connection]
                seq = gw.seq_next
                payload, readings = source.build(gw.gateway, j, seq, real_t0 + i * period / n)
                info = conn.client.publish(topics.readings(gw.gateway), payload, 1)
                if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                    log.error("%s: publish failed: %s", gw.gateway, mqtt.error_string(info.rc))
                    continue
                conn.inflight[info.mid] = (gw, seq, readings, len(payload))
                gw.on_published(seq, readings)
                gw.seq_next += 1
        finally:
            report.cancel()

    async def _misc(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            for c in self.conns:
                if c.connected:
                    c.client.loop_misc()

    async def _report(self, total: int) -> None:
        if self.progress is None:
            return
        while True:
            await asyncio.sleep(self.opts.progress_interval)
            self.progress(self.snapshot(total))

    def snapshot(self, total: int | None = None) -> dict[str, Any]:
        stats = self.stats.values()
        acked = sum(g.acked for g in stats)
        elapsed = max(asyncio.get_running_loop().time() - self.t0, 1e-9)
        return {
            "elapsed_s": round(elapsed, 1),
            "planned": total,
            "published": sum(g.published for g in stats),
            "acked": acked,
            "refused": sum(g.refused for g in stats),
            "inflight": sum(len(c.inflight) for c in self.conns),
            "batches_per_s": round(acked / elapsed, 1),
            "max_lag_s": round(self.max_lag, 3),
        }

    async def _drain(self, timeout: float) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            if not any(g.unacked for g in self.stats.values()):
                return
            await asyncio.sleep(0.05)

    async def _close_all(self) -> None:
        self._stopping = True
        live = [c for c in self.conns if c.connected]
        if self.opts.status:
            for c in live:
                for gw in c.gateways:
                    self._publish_status(c, gw.gateway, "offline")
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and any(c.inflight for c in live):
                await asyncio.sleep(0.05)
        for c in self.conns:
            c.closing = True
            with contextlib.suppress(Exception):
                c.client.disconnect()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(c.client.socket() for c in self.conns):
            await asyncio.sleep(0.05)

    def summary(self) -> dict[str, Any]:
        # asyncio's loop.time() is time.monotonic(): the window runs from the first due
        # publish to the last PUBACK.
        window = max(self.last_ack - self.t0, 0.0) if self.t0 else 0.0
        run = {
            "broker": str(self.address),
            "protocol": self.protocol,
            "connections": len(self.conns),
            "scenario": self.scenario_name,
            "scenario_speed": self.speed,
            "seed": self.seed,
            "started": self.started_utc,
        }
        return fleet_summary(self.opts, list(self.stats.values()), run, window, self.max_lag)


def run_fleet(opts: FleetOptions, progress: Progress | None = None) -> dict[str, Any]:
    """Run a fleet to the end and return its summary (a JSON-ready dict)."""
    return asyncio.run(FleetRun(opts, progress).run())
