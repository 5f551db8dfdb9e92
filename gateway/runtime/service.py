"""The gateway process: drivers in their own threads -> spool -> publisher; health beside.

:class:`DriverRunner` supervises one driver: a driver must not raise out of ``run``, so one that
does has a bug; the runner logs it with its traceback, sets the device state to ``error`` and
runs the driver again after its ``reopen_interval``. The other devices carry on.

:class:`GatewayService` wires the pieces together and owns their lifecycle; the work itself is
in the drivers (polling), :mod:`gateway.runtime.spool` (spooling), :mod:`gateway.runtime.publisher`
(publishing, replay) and :mod:`gateway.runtime.health` (status and the periodic ``gateway_health``
reading, which enters the spool through the same sink as the devices' readings).

The health file beside the spool (:mod:`kernel.alive`: version, pid, ``running`` once started,
``published`` once the broker acknowledged a status) tells the updater on the same machine
that a new release works, with or without network (firmware_tools.gateway_update).

Every reading passes :class:`gateway.runtime.stamps.SeriesStamps` on its way to the spool: no
two readings of one series get the same time, also when the clock steps back. While the
system clock is not set (before :data:`gateway.runtime.clock.CLOCK_FLOOR`), the drivers get
provisional times and the spool holds every reading until the clock is set, then re-dates
them (:mod:`gateway.runtime.clock`).

A spool that cannot be written (disk full, I/O error) does not crash the driver that handed
over the readings: they are counted as lost (``spool_errors`` in the status) and logged.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from gateway import devices as _drivers
from gateway.config import GatewayConfig
from gateway.devices.base import DeviceConfig, Driver
from gateway.runtime.clock import ClockGuard, GatewayClock, boot_id
from gateway.runtime.health import Health, report_periodically
from gateway.runtime.publisher import Publisher
from gateway.runtime.spool import Spool, SpoolError
from gateway.runtime.stamps import SeriesStamps
from kernel import __version__
from kernel.alive import HEALTH_FILE_NAME, write_alive
from kernel.signals import stop_event
from kernel.update_result import UPDATE_RESULT_NAME
from telemetry.models import DeviceState, Reading

log = logging.getLogger(__name__)

DriverTable = dict[str, tuple[type[DeviceConfig], type[Driver]]]


class DriverRunner:
    """Runs one driver in its own thread and restarts it after a crash."""

    def __init__(self, driver: Driver, stop: threading.Event) -> None:
        self.driver = driver
        self.stop = stop
        self.crashes = 0
        self._last_crash: str | None = None
        device = driver.config.id
        self.thread = threading.Thread(target=self._main, name=f"device-{device}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _main(self) -> None:
        cfg = self.driver.config
        while not self.stop.is_set():
            try:
                self.driver.run(self.stop)
            except Exception as exc:
                self.crashes += 1
                problem = f"{type(exc).__name__}: {exc}"
                if problem != self._last_crash:  # the full traceback once per kind of crash
                    log.exception(
                        "device %s: driver %r crashed (a bug); restarting it in %.1f s",
                        cfg.id,
                        type(self.driver).__name__,
                        cfg.reopen_interval,
                    )
                else:
                    log.error(
                        "device %s: driver crashed again (%s, %d times); restarting in %.1f s",
                        cfg.id,
                        problem,
                        self.crashes,
                        cfg.reopen_interval,
                    )
                self._last_crash = problem
                self.driver.set_state("error", problem)
            else:
                if self.stop.is_set():
                    return
                log.error("device %s: driver returned while the gateway runs; restarting", cfg.id)
                self.driver.set_state("error", "driver returned without being stopped")
            self.stop.wait(cfg.reopen_interval)


class GatewayService:
    """The whole gateway: ``start()``/``stop()`` for embedding, ``run()`` for the command line."""

    def __init__(
        self,
        config: GatewayConfig,
        *,
        drivers: DriverTable | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        table = _drivers.DRIVERS if drivers is None else drivers
        self.config = config
        self.stamps = SeriesStamps()  # one time per reading of a series (stamps.py)
        wall = clock
        clock = self.clock = GatewayClock(wall)  # provisional times while unset (clock.py)
        self._stop_drivers = threading.Event()
        self._shutdown = threading.Event()
        self.spool = Spool(
            config.spool_path,
            config.spool.max_readings,
            clock=clock,
            fsync_interval=config.spool.fsync_interval,
        )
        try:
            self.runners = [
                DriverRunner(table[device.driver][1](device, self._sink, clock), self._stop_drivers)
                for device in config.devices
            ]
            self.health = Health(
                config.gateway.id,
                self.spool,
                lambda: self.drivers,
                clock=clock,
                update_result=config.spool_path.parent / UPDATE_RESULT_NAME,
                extras=self._status_extras,
                wall=wall,
            )
            self.publisher = Publisher(config, self.spool, self.health, clock=wall)
            self.guard = ClockGuard(self.clock, self.spool)
            self.guard.resume(boot_id())  # a reboot while the clock was unset (clock.py)
        except BaseException:
            self.spool.close()
            raise
        self._health_thread = threading.Thread(
            target=report_periodically,
            args=(self.health, self._sink, config.publish.health_interval, self._stop_drivers),
            name="health",
            daemon=True,
        )
        self._started = False
        self.alive_path = config.spool_path.parent / HEALTH_FILE_NAME
        self._alive: dict = {"version": __version__, "pid": os.getpid(), "started": time.time()}

    @property
    def drivers(self) -> list[Driver]:
        return [runner.driver for runner in self.runners]

    def device_states(self) -> dict[str, DeviceState]:
        return self.health.device_states()

    def _status_extras(self) -> dict[str, Any]:
        return {"stamps_moved": self.stamps.moved, **self.guard.status()}

    def _sink(self, readings: Sequence[Reading]) -> None:
        with self.guard.lock:  # no provisional time slips past the re-dating (clock.py)
            readings = self.stamps.stamp(self.guard.admit(readings))
            try:
                self.spool.append(readings)
            except SpoolError as exc:
                self.health.lost(len(readings), exc)
                return
        self.publisher.notify()

    def start(self) -> None:
        log.info(
            "gateway %s: starting %d device(s), spool %s (%d readings waiting)",
            self.config.gateway.id,
            len(self.runners),
            self.spool.path,
            self.spool.depth(),
        )
        self._started = True
        self.guard.check()  # an unset clock holds the spool before anything is published
        self.publisher.start()
        for runner in self.runners:
            runner.start()
        if self.config.publish.health_interval > 0:
            self._health_thread.start()
        self.report_alive()

    def report_alive(self) -> None:
        """Rewrite the health file when the phase changed; never fails the gateway."""
        phase = "published" if self.publisher.statuses_acked else "running"
        if self._alive.get("phase") == phase:
            return
        record = {**self._alive, "phase": phase, "time": time.time()}
        try:
            write_alive(self.alive_path, record)
        except OSError as exc:
            log.warning("could not write the health file %s: %s", self.alive_path, exc)
        self._alive = record  # tried once per phase: a read-only folder is not retried

    def stop(self, join_timeout: float = 5.0) -> None:
        """Stop the drivers, publish what is ready, say ``offline``, close the spool."""
        if not self._started:
            self.spool.close()
            return
        self._started = False
        self._stop_drivers.set()
        deadline = time.monotonic() + join_timeout
        for runner in self.runners:
            runner.thread.join(max(0.0, deadline - time.monotonic()))
            if runner.thread.is_alive():
                log.error("device %s: driver did not stop in time", runner.driver.config.id)
        if self._health_thread.is_alive():
            self._health_thread.join(max(0.1, deadline - time.monotonic()))
        self.publisher.stop()
        self.spool.close()
        log.info("gateway %s: stopped", self.config.gateway.id)

    def request_shutdown(self) -> None:
        self._shutdown.set()

    def run(self) -> int:
        """Run until SIGTERM or SIGINT (or :meth:`request_shutdown`); return the exit code."""

        def on_signal(sig: signal.Signals) -> None:
            log.info("received %s, shutting down", sig.name)

        with stop_event(self._shutdown, on_signal=on_signal):
            self.start()
            try:
                while not self._shutdown.wait(0.5):
                    self.guard.check()
                    self.report_alive()
            finally:
                self.stop()
        return 0
