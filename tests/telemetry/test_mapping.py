"""Readings -> InfluxDB points and line protocol (golden escaping cases)."""

from __future__ import annotations

import pytest

from telemetry import Batch, Reading
from telemetry.mapping import Point, batch_to_points, to_line

T0 = 1_764_489_600_000


def test_field_types_follow_the_name_not_the_json_number() -> None:
    batch = Batch(
        gateway="gw-1",
        seq=1,
        sent=T0,
        readings=[
            Reading(
                sensor="c1",
                measurement="traffic",
                time=T0,
                fields={"count": 3.0, "speed_mean": 40},
                tags={"lane": "2"},
            ),
        ],
    )
    (p,) = batch_to_points(batch)
    assert p.tags == {"gateway": "gw-1", "sensor": "c1", "lane": "2"}
    assert p.fields == {"count": 3, "speed_mean": 40.0}
    assert isinstance(p.fields["count"], int) and isinstance(p.fields["speed_mean"], float)
    assert to_line(p) == "traffic,gateway=gw-1,lane=2,sensor=c1 count=3i,speed_mean=40.0 " + str(T0)


@pytest.mark.parametrize(
    ("point", "line"),
    [
        (Point("m x", {"t": "a b"}, {"f": 1.0}, 1), r"m\ x,t=a\ b f=1.0 1"),
        (Point("m,x", {"t,k": "a=b"}, {"f": 1.0}, 1), r"m\,x,t\,k=a\=b f=1.0 1"),
        # InfluxDB 1.x keeps a backslash in a tag as it is (tests/telemetry/test_line_protocol.py)
        (Point("m", {"t": "a/b"}, {"f": 'say "hi"\\'}, 1), r'm,t=a/b f="say \"hi\"\\" 1'),
        (
            Point("m", {"t": "Sarolangun Kota–Pauh"}, {"f": 2}, 5),
            "m,t=Sarolangun\\ Kota–Pauh f=2i 5",
        ),
        (Point("m", {"t": ""}, {"f": 1.5}, 1), "m f=1.5 1"),
    ],
)
def test_line_protocol_escaping(point: Point, line: str) -> None:
    assert to_line(point) == line
