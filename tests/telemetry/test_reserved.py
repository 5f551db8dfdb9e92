"""Names the contract keeps for JagaJalan itself: the pipeline's own measurements and the
reserved gateway ids are refused with named reasons by the model, the codec (JSON and
compact), the topic functions and the line encoder, which decide alike (property test)."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from telemetry import Batch, DecodeError, Reading, Status, compact, topics
from telemetry.codec import REASONS, decode_batch, decode_status, encode_batch
from telemetry.line_encoder import InvalidName, LineEncoder
from telemetry.mapping import META_MEASUREMENTS, batch_meta_point, status_point, status_points
from telemetry.models import (
    DERIVED_MEASUREMENTS,
    NAME_PATTERN,
    PIPELINE_MEASUREMENTS,
    PIPELINE_PREFIX,
    REFERENCE_MEASUREMENTS,
    reserved_measurement,
)

T0 = 1_764_489_600_000  # 2025-11-30T08:00:00Z
RESERVED_MEASUREMENTS = ["gateway_batches", "gateway_status", "jagajalan_alerts", "jagajalan_"]
RESERVED_GATEWAYS = ["deadletter", "ingest", "api", "alerts", "analytics", "grafana", "admin"]
RESERVED_GATEWAYS += ["deadletter-archive", "jagajalan", "ingest-1", "jagajalan-ingest-host"]


def _batch(**over) -> Batch:
    reading = Reading.model_construct(
        sensor="env1", measurement="air_quality", time=T0, fields={"pm25": 12.5}, tags={}
    )
    values = {"v": 1, "gateway": "gw-a", "seq": 1, "sent": T0, "readings": [reading]}
    return Batch.model_construct(**{**values, **over})


def _reading(**over) -> Reading:
    values = {"sensor": "env1", "measurement": "air_quality", "time": T0, "fields": {"pm25": 1.5}}
    return Reading.model_construct(**{**values, "tags": {}, **over})


def _payloads(batch: Batch) -> dict[str, bytes]:
    """The batch as JSON and as compact bytes, built without validation (the encoders only
    read the attributes), as a gateway of another implementation would send them."""
    obj = {
        "v": 1,
        "gateway": batch.gateway,
        "seq": batch.seq,
        "sent": batch.sent,
        "readings": [
            {"sensor": r.sensor, "measurement": r.measurement, "time": r.time, "fields": r.fields}
            for r in batch.readings
        ],
    }
    return {"json": json.dumps(obj).encode(), "compact": compact.encode(batch)}


# -- the rule ---------------------------------------------------------------------------------


def _status_with_a_device() -> Status:
    return Status(gateway="gw-a", state="online", time=T0, devices={"env1": "ok"})


def test_every_measurement_ingest_writes_itself_is_reserved() -> None:
    written = {
        batch_meta_point(Batch(gateway="gw-a", seq=1, sent=T0, readings=[_reading()])).measurement,
        status_point("gw-a", "online", T0).measurement,
        *(p.measurement for p in status_points(_status_with_a_device(), T0)),
    }
    assert written == set(PIPELINE_MEASUREMENTS)
    assert all(reserved_measurement(m) for m in (*PIPELINE_MEASUREMENTS, *DERIVED_MEASUREMENTS))
    # What the indicators job derives is reserved and, like the pipeline's own, not a reading.
    assert (
        set(PIPELINE_MEASUREMENTS) | set(DERIVED_MEASUREMENTS) | set(REFERENCE_MEASUREMENTS)
        == META_MEASUREMENTS
    )
    assert all(reserved_measurement(m) for m in REFERENCE_MEASUREMENTS)
    # Pipeline measurements added from now on take the reserved prefix.
    legacy = {"gateway_batches", "gateway_status"}
    assert all(m.startswith(PIPELINE_PREFIX) for m in set(PIPELINE_MEASUREMENTS) - legacy)
    # The gateway's own measurements are readings it writes through the contract, typed by
    # field name like any other (telemetry.units): not reserved.
    for name in ("gateway_health", "gateway_position", "air_quality", "jagajalanx", "gateway"):
        assert not reserved_measurement(name)
    assert set(REASONS) >= {"reserved_id", "reserved_measurement"}


# -- the codec: JSON and compact ---------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["json", "compact"])
@pytest.mark.parametrize("measurement", RESERVED_MEASUREMENTS)
def test_reserved_measurements_are_refused(measurement: str, encoding: str) -> None:
    ok = _reading(time=T0 + 1000)
    bad = _reading(measurement=measurement, fields={"seq": 1.5, "state": 2.0})
    payload = _payloads(_batch(readings=[ok, bad]))[encoding]
    with pytest.raises(DecodeError) as info:
        decode_batch(payload)
    assert info.value.reason == "reserved_measurement"
    assert info.value.message.startswith(f"readings.1.measurement: measurement {measurement!r}")
    assert "is reserved" in info.value.message


@pytest.mark.parametrize("encoding", ["json", "compact"])
@pytest.mark.parametrize("gateway", RESERVED_GATEWAYS)
def test_reserved_gateway_ids_are_refused_in_batches_and_statuses(
    gateway: str, encoding: str
) -> None:
    with pytest.raises(DecodeError) as info:
        decode_batch(_payloads(_batch(gateway=gateway))[encoding])
    assert (info.value.reason, info.value.message.split(":")[0]) == ("reserved_id", "gateway")
    assert f"{gateway!r} is reserved" in info.value.message
    with pytest.raises(DecodeError) as info:
        decode_status(json.dumps({"v": 1, "gateway": gateway, "state": "offline"}).encode())
    assert info.value.reason == "reserved_id"
    with pytest.raises(ValidationError, match="reserved"):
        Status(gateway=gateway, state="online")


def test_a_reserved_name_decides_the_reason_over_other_problems() -> None:
    obj = json.loads(_payloads(_batch(readings=[_reading(), _reading(measurement="x")]))["json"])
    obj["seq"] = -1
    obj["readings"][0]["fields"] = {"pm25": "1"}
    obj["readings"][1]["measurement"] = "gateway_status"
    with pytest.raises(DecodeError) as info:
        decode_batch(json.dumps(obj).encode())
    assert info.value.reason == "reserved_measurement"
    first, *others = info.value.message.split("; ")
    assert first.startswith("readings.1.measurement: measurement 'gateway_status' is reserved")
    assert any(o.startswith("seq:") for o in others)  # the other problems are named too


def test_sensor_ids_are_not_reserved() -> None:
    """Only gateway ids are topic levels and MQTT users; a sensor may be called "api"."""
    reading = Reading(sensor="api", measurement="air_quality", time=T0, fields={"pm25": 1.0})
    batch = Batch(gateway="gw-a", seq=0, sent=T0, readings=[reading])
    assert decode_batch(encode_batch(batch)) == batch


# -- topics ------------------------------------------------------------------------------------


@pytest.mark.parametrize("gateway", RESERVED_GATEWAYS)
def test_topics_refuse_reserved_gateway_ids(gateway: str) -> None:
    for kind in ("readings", "status", "cmd"):
        with pytest.raises(topics.ReservedId) as info:
            topics.parse(f"jagajalan/v1/{gateway}/{kind}")
        assert info.value.reason == "reserved_id"
        assert f"{gateway!r} is reserved" in str(info.value)
    for build in (topics.readings, topics.status, topics.command):
        with pytest.raises(topics.ReservedId):
            build(gateway)
    assert topics.valid_id(gateway) and not topics.valid_gateway_id(gateway)


def test_dead_letter_topics_are_not_gateway_topics() -> None:
    with pytest.raises(topics.ReservedId):
        topics.parse("jagajalan/v1/deadletter/reserved_id")
    for near in ("deadletters", "api2", "ingestion-01", "admin0", "srl-ingest-01"):
        assert topics.parse(f"jagajalan/v1/{near}/readings") == (near, "readings")


# -- the line encoder (ingest's fast path checks names there) ---------------------------------


def test_the_encoder_refuses_reserved_names() -> None:
    encoder = LineEncoder()
    ok = SimpleNamespace(
        sensor="env1", measurement="air_quality", time=T0, fields={"pm25": 1.5}, tags={}
    )
    for measurement in RESERVED_MEASUREMENTS:
        bad = SimpleNamespace(**{**vars(ok), "measurement": measurement})
        with pytest.raises(InvalidName, match=f"measurement {measurement!r} is reserved"):
            encoder.reading_lines("gw-a", [ok, bad])
    for gateway in RESERVED_GATEWAYS:
        with pytest.raises(InvalidName, match=f"gateway {gateway!r} is a reserved id"):
            encoder.reading_lines(gateway, [ok])
    assert encoder.reading_lines("gw-a", [ok])[0] == [
        f"air_quality,gateway=gw-a,sensor=env1 pm25=1.5 {T0}"
    ]


_measurements = st.one_of(
    st.sampled_from([*RESERVED_MEASUREMENTS, "gateway_health", "air_quality", "jagajalan"]),
    st.from_regex(f"{PIPELINE_PREFIX}[a-z0-9_]{{0,5}}", fullmatch=True),
    st.from_regex(NAME_PATTERN, fullmatch=True),
    st.text(alphabet="agjt_ewyn-A1 ", max_size=16),
)
_gateways = st.one_of(
    st.sampled_from([*RESERVED_GATEWAYS, "gw-a", "deadletters", "srl-ingest-01"]),
    st.from_regex(r"(ingest|jagajalan|deadletter|api)-?[a-z0-9-]{0,4}", fullmatch=True),
    st.from_regex(topics.ID_PATTERN, fullmatch=True),
)


@given(measurement=_measurements, gateway=_gateways)
@settings(max_examples=400, deadline=None)
def test_the_model_and_the_encoder_decide_names_alike(measurement: str, gateway: str) -> None:
    """The codec's model and the line encoder (ingest's fast path) accept the same
    measurements and gateway ids: reserved ones included."""
    reading = {"sensor": "env1", "measurement": measurement, "time": T0, "fields": {"pm25": 1.0}}
    try:
        Batch.model_validate({"gateway": gateway, "seq": 0, "sent": T0, "readings": [reading]})
        model_ok = True
    except ValidationError:
        model_ok = False
    try:
        LineEncoder().reading_lines(gateway, [Reading.model_construct(**reading, tags={})])
        encoder_ok = True
    except InvalidName:
        encoder_ok = False
    assert model_ok == encoder_ok
    allowed = re.fullmatch(NAME_PATTERN, measurement) and not reserved_measurement(measurement)
    assert model_ok == bool(topics.valid_gateway_id(gateway) and allowed)
