"""Known answers from device documentation, shared by the tests of both sides of the wire
(the gateway's parsers and the emulators' own encoders check against the same table, never
against each other)."""

from __future__ import annotations

#: "Polling with CRC" in the Vaisala WXT530 user guide (M211840EN): the query CRCs it prints,
#: and its answer to a query with a wrong CRC, "0tX,Use chksum GoeIU~".
WXT_MANUAL_CRCS: list[tuple[bytes, bytes]] = [
    (b"0r0", b"Kld"),
    (b"0r1", b"Goe"),
    (b"0r2", b"Gje"),
    (b"0r3", b"Kid"),
    (b"0r5", b"Kcd"),
    (b"0r", b"BVT"),
    (b"0tX,Use chksum Goe", b"IU~"),
]
