"""What the compact-encoding tests share: the golden batch and its bytes, its base time and the
reasons a payload may be refused with."""

from __future__ import annotations

import struct

from telemetry import Batch, Reading, codec

T0 = 1_764_489_600_000  # 2025-11-30T08:00:00Z
F32_THIRD = struct.unpack(">f", struct.pack(">f", 1 / 3))[0]  # exact in float32, not decimal
REASONS = set(codec.REASONS)  # every reason a DecodeError can carry


def golden_batch() -> Batch:
    aq = "air_quality"
    return Batch(
        gateway="srl-pasar-01",
        seq=7,
        sent=T0 + 5500,
        readings=[
            Reading(
                sensor="env1",
                measurement=aq,
                time=T0,
                fields={"pm25": 12.5, "pm10": 20.0, "temperature": 29.1, "humidity": 81.0},
            ),
            Reading(
                sensor="cnt1",
                measurement="traffic",
                time=T0,
                fields={"count": 17, "speed_mean": 42.25},
                tags={"lane": "1"},
            ),
            Reading(
                sensor="env1",
                measurement=aq,
                time=T0 + 5000,
                fields={"pm25": 13.1, "pm10": 19.0, "temperature": 29.2, "humidity": 80.5},
            ),
            Reading(
                sensor="wl1",
                measurement="water_level",
                time=T0 + 5000,
                fields={"level": 0.1 + 0.2, "distance": F32_THIRD},
            ),
        ],
    )


# The golden batch, uncompressed. A change here is a change of the wire format: it needs a new
# payload version (docs/protocol.md), not a new golden.
GOLDEN = bytes.fromhex(
    "c1 02 00"  # header: marker 0xc1, payload version 2, flags 0 (not compressed)
    "97"  # body: an array of 7
    "ac 73726c2d70617361722d3031"  # gateway "srl-pasar-01"
    "07"  # seq 7
    "cf 0000019ad3c6b17c"  # sent 1764489605500
    "dc 0010"  # strings: 16
    "a4 656e7631 ab 6169725f7175616c697479"  # 0 env1, 1 air_quality
    "a4 706d3235 a4 706d3130 ab 74656d7065726174757265 a8 68756d6964697479"  # 2-5 fields
    "a4 636e7431 a7 74726166666963"  # 6 cnt1, 7 traffic
    "a5 636f756e74 aa 73706565645f6d65616e"  # 8 count, 9 speed_mean
    "a4 6c616e65 a1 31"  # 10 lane, 11 "1"
    "a3 776c31 ab 77617465725f6c6576656c"  # 12 wl1, 13 water_level
    "a5 6c6576656c a8 64697374616e6365"  # 14 level, 15 distance
    "93"  # schemas: 3 of [sensor, measurement, [fields], [decimals], [tag key, value...]]
    "95 00 01 94 02030405 94 01000101 90"  # env1 air_quality; decimals 1, 0, 1, 1
    "95 06 07 92 0809 92 c0 02 92 0a0b"  # cnt1 traffic; count as is, speed_mean 2; lane=1
    "95 0c 0d 92 0e0f 92 c0 c0 90"  # wl1 water_level; both as is
    "92 cf 0000019ad3c69c00 cd 1388"  # time: t0 1764489600000, unit 5000 ms
    "dc 0014"  # rows: 20 items
    "00 00 7d 14 cd0123 cd032a"  # env1 +0: 12.5 20. 29.1 81.0 as 125 20 291 810
    "01 00 11 cd1081"  # cnt1 +0: count 17, speed_mean 4225 (42.25)
    "00 01 06 ff 01 fb"  # env1 +5 s: changes +6 -1 +1 -5 = 13.1 19. 29.2 80.5
    "02 00 cb 3fd3333333333334 ca 3eaaaaab"  # wl1 +0: 0.1 + 0.2 as float64, 1/3 as float32
)
