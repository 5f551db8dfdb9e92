"""Readings -> InfluxDB points and line protocol (golden escaping cases)."""

from __future__ import annotations

import json

import pytest

from telemetry import Batch, DecodeError, Reading, Status
from telemetry.codec import decode_status, encode_status
from telemetry.mapping import Point, batch_to_points, status_points, to_line

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


# -- status messages ------------------------------------------------------------------------


def _status(**details: object) -> Status:
    return decode_status(
        encode_status(Status(gateway="gw-1", state="online", time=T0, **details))  # type: ignore[arg-type]
    )


def test_a_status_becomes_a_gateway_point_and_one_point_per_device() -> None:
    status = _status(
        devices={"wl1": "unplugged", "env1": "ok", "cnt1": "timeout"},
        spool_depth=42,
        spool_oldest_age=12.5,
        dropped=3,
        spool_errors=0,
        clock_offset=-0.4,
        errors={"wl1": {"unplugged": 2, "timeout": 1}, "env1": {"stuck": 1}},
        last_error={"wl1": "/dev/ttyUSB3: gone", "env1": "stale text of an ok device"},
        info={"env1": {"stuck": ["pm25", "Bad Name", 7]}, "cnt1": "free-form"},
        version="1.4.2",
        firmware={"wl1": "WL-3.1", "env1": 207, "cnt1": ["not", "a", "version"]},
        update={
            "version": "1.5.0",
            "result": "rolled_back",
            "reason": "health.not_published",
            "detail": 'no "published" within 120 s',
            "rollout": "r7",
            "time": T0 - 1000,
            "later": "keys the contract does not know are ignored",
        },
    )
    gw, *devices = status_points(status, T0)
    assert gw == Point(
        "gateway_status",
        {"gateway": "gw-1"},
        {
            "state": "online",
            "spool_depth": 42,
            "spool_oldest_age": 12.5,
            "dropped": 3,
            "spool_errors": 0,
            "clock_offset": -0.4,
            "version": "1.4.2",
            "update_version": "1.5.0",
            "update_result": "rolled_back",
            "update_reason": "health.not_published",
            "update_detail": 'no "published" within 120 s',
            "update_rollout": "r7",
            "update_time": T0 - 1000,
        },
        T0,
    )
    assert 'update_detail="no \\"published\\" within 120 s"' in to_line(gw)
    assert f"update_time={T0 - 1000}i" in to_line(gw)
    assert devices == [
        Point(
            "jagajalan_device_status",
            {"gateway": "gw-1", "device": "wl1"},
            {
                "state": "unplugged",
                "last_error": "/dev/ttyUSB3: gone",
                "stuck": "",
                "errors": 3,
                "firmware": "WL-3.1",
            },
            T0,
        ),
        Point(
            "jagajalan_device_status",
            {"gateway": "gw-1", "device": "env1"},
            {"state": "ok", "last_error": "", "stuck": "pm25", "errors": 1, "firmware": "207"},
            T0,
        ),
        Point(
            "jagajalan_device_status",
            {"gateway": "gw-1", "device": "cnt1"},
            {"state": "timeout", "last_error": "", "stuck": "", "errors": 0, "firmware": ""},
            T0,
        ),
    ]
    # Types never change: counts are integers, the rest floats or strings, in every point.
    assert isinstance(gw.fields["spool_depth"], int) and isinstance(
        gw.fields["clock_offset"], float
    )
    for line in map(to_line, [gw, *devices]):
        assert line.endswith(f" {T0}")


def test_a_last_will_is_the_state_alone() -> None:
    will = decode_status(b'{"v":1,"gateway":"gw-1","state":"offline"}')
    assert status_points(will, T0 + 5) == [
        Point("gateway_status", {"gateway": "gw-1"}, {"state": "offline"}, T0 + 5)
    ]


@pytest.mark.parametrize(
    ("update", "fields"),
    [
        # What the updater's journal gives (no time, no detail): stored with empty texts.
        (
            {"version": "2.0.0", "result": "aborted", "reason": "update.interrupted"},
            {"update_version": "2.0.0", "update_result": "aborted"},
        ),
        ({"version": "2.0.0", "result": "refused", "detail": "x" * 900}, {"detail": 200}),
        ({"version": "2.0.0", "result": "exploded"}, None),  # no result of the contract
        ({"version": 2, "result": "committed"}, None),
        ({"version": "2.0.0", "result": "refused", "time": 5}, None),  # 1970: a bad clock
        ("rolled back", None),
    ],
)
def test_an_update_that_is_no_update_is_left_out_never_refused(update, fields) -> None:
    gw = status_points(_status(update=update), T0)[0]
    got = {k: v for k, v in gw.fields.items() if k.startswith("update_")}
    if fields is None:
        assert got == {}
    elif "detail" in fields:
        assert len(got["update_detail"]) == fields["detail"]
    else:
        assert got == {
            **fields,
            "update_reason": "update.interrupted",
            "update_detail": "",
            "update_rollout": "",
        }


@pytest.mark.parametrize(
    ("details", "where"),
    [
        ({"spool_depth": -1}, "spool_depth"),
        ({"spool_depth": "12"}, "spool_depth"),
        ({"dropped": 2**60}, "dropped"),
        ({"devices": {"Bad Id": "ok"}}, "devices"),
        ({"devices": {"wl1": "asleep"}}, "devices.wl1"),
        ({"errors": {"wl1": {"timeout": -3}}}, "errors.wl1.timeout"),
        ({"last_error": {"wl1": 5}}, "last_error.wl1"),
    ],
)
def test_status_details_that_break_the_contract_are_refused(details: dict, where: str) -> None:
    payload = {"v": 1, "gateway": "gw-1", "state": "online", "time": T0, **details}
    with pytest.raises(DecodeError) as info:
        decode_status(json.dumps(payload).encode())
    assert info.value.reason == "invalid" and where in info.value.message


def test_a_clock_offset_that_is_not_finite_is_refused() -> None:
    with pytest.raises(DecodeError, match="clock_offset"):
        decode_status(b'{"v":1,"gateway":"gw-1","state":"online","clock_offset":1e400}')
