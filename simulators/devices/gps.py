"""An emulated GPS module (docs/protocol.md 5.4): NMEA 0183 RMC, GGA and GSA at 1 Hz on a pty.

Each second of GPS time the module sends ``$GPRMC``, ``$GPGGA`` and ``$GPGSA`` (talker
``GN`` for a multi-constellation module) for a fix at that whole second, ``output_delay``
seconds after it. The position wanders around the given one by a seeded ``jitter_m`` (metres,
standard deviation), as a real fix does. GPS time is the simulator's clock plus
``clock_drift`` seconds, so ``clock_drift=30`` emulates a gateway clock 30 s behind (the
driver reports ``clock_offset`` of about -30 s). ``fix=False`` emulates a module without a
fix (RMC status V, GGA quality 0, no position, time still sent). ``fix``, ``clock_drift``
and ``silent`` may be changed while it runs.

The sentences are written by the emulator's own :mod:`simulators.devices.wire.nmea`. Every
epoch sent is recorded as truth, with the position as written (5 decimals of a minute)::

    {"kind": "gps_fix", "device": "gps1", "time": <GPS ms>, "sent": <clock ms>,
     "fix": true, "latitude": -2.3000016666666667, "longitude": 102.70000333333333,
     "altitude": 35.0, "satellites": 9, "clock_drift": 0.0}
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable

from simulators.devices.serial_device import SerialDeviceSim
from simulators.devices.wire import nmea
from simulators.truth import TruthWriter

log = logging.getLogger(__name__)

#: Sarolangun town (docs: ../shared/DOMAIN.md).
SAROLANGUN = (-2.30, 102.70)
METRES_PER_DEGREE = 111_320.0


class GpsSim(SerialDeviceSim):
    def __init__(
        self,
        device_path: str,
        sensor_id: str = "gps1",
        seed: int = 0,
        *,
        latitude: float = SAROLANGUN[0],
        longitude: float = SAROLANGUN[1],
        altitude: float = 35.0,
        fix: bool = True,
        clock_drift: float = 0.0,
        satellites: int = 9,
        jitter_m: float = 2.0,
        talker: str = "GP",
        output_delay: float = 0.05,
        truth: TruthWriter | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not -90 <= latitude <= 90 or not -180 <= longitude <= 180:
            raise ValueError(f"position {latitude}, {longitude} is out of range")
        if not 0 <= output_delay < 1 or jitter_m < 0 or not 0 <= satellites <= 99:
            raise ValueError("output_delay must be in [0, 1), jitter_m >= 0, satellites 0-99")
        self.device_path = device_path
        self.sensor_id = sensor_id
        self.latitude = latitude
        self.longitude = longitude
        self.altitude = altitude
        self.fix = fix
        self.clock_drift = clock_drift
        self.satellites = satellites
        self.jitter_m = jitter_m
        self.talker = talker
        self.output_delay = output_delay
        self.truth = truth
        self.clock = clock
        self.silent = False
        self.sent = 0  # epochs sent
        self.rng = random.Random(f"gps:{seed}")
        self._init_device()

    def __repr__(self) -> str:
        return f"GpsSim({self.sensor_id!r}, {self.device_path!r})"

    def _run(self) -> None:
        try:
            while True:
                gps_now = self.clock() + self.clock_drift
                epoch = math.floor(gps_now) + 1
                if self._stop.wait(max(0.0, epoch + self.output_delay - gps_now)):
                    return
                if not self.silent:
                    self.send_epoch(int(epoch * 1000))
        except OSError as exc:  # the pty went away under us: end quietly
            if not self._stop.is_set():
                log.warning("%r: write failed, stopping: %s", self, exc)

    def send_epoch(self, gps_ms: int) -> None:
        """Send the sentences of one fix epoch at GPS time *gps_ms*."""
        fix = self.fix
        lat_m, lon_m = self.rng.gauss(0, self.jitter_m), self.rng.gauss(0, self.jitter_m)
        latitude = round(self.latitude + lat_m / METRES_PER_DEGREE, 7)
        cos_lat = max(0.01, math.cos(math.radians(self.latitude)))
        longitude = round(self.longitude + lon_m / (METRES_PER_DEGREE * cos_lat), 7)
        satellites = self.satellites if fix else self.rng.randint(0, 3)
        talker = self.talker
        where = nmea.position(latitude, longitude) if fix else None
        data = nmea.rmc(gps_ms, where, talker)
        data += nmea.gga(gps_ms, where, self.altitude, satellites, talker=talker)
        data += nmea.gsa(fix, [4, 5, 9, 12, 24], 2.5, 1.3, 2.1, talker)
        self.send_raw(data)
        self.sent += 1
        if self.truth is not None:
            self.truth.write(
                "gps_fix",
                self.sensor_id,
                time=gps_ms,
                sent=int(self.clock() * 1000),
                fix=fix,
                latitude=where.latitude if where else None,
                longitude=where.longitude if where else None,
                altitude=float(nmea.altitude_text(self.altitude)) if where else None,
                satellites=satellites,
                clock_drift=self.clock_drift,
            )
