"""The emulators' own wire encoders: what each emulated device puts on its serial line.

Each module here is written from docs/protocol.md section 5 and the device documentation, never
from the gateway's parsers or formatters, and imports nothing from ``gateway``: an emulator that
encoded with the gateway's code would agree with the gateway by construction and hide the bugs
both share. The tests hold both sides against published known answers and against each other.

- :mod:`.nmea`: NMEA 0183 sentences (RMC, GGA, GSA) and their checksum (5.4);
- :mod:`.vehicle`: the traffic counter's ``$VEH`` records and ``$HBT`` heartbeats (5.1);
- :mod:`.wxt`: Vaisala WXT5xx-style data messages, unit letters and the CRC-16 (5.3);
- :mod:`.registers`: Modbus register words of a value, per data type and word order (5.2).

Every encoder also returns the value its text or registers carry (after its own rounding), so
an emulator's ground truth is what it meant to send, not a decode of what it sent. Pure: no
I/O, no clock.
"""
