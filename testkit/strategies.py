"""Hypothesis strategies for the telemetry contract (batches of readings)."""

from __future__ import annotations

from hypothesis import strategies as st

from telemetry import Batch, Reading, topics
from telemetry.models import READING_TAGS
from telemetry.units import FIELDS
from testkit.ingest import T0

ids = st.from_regex(r"[a-z0-9][a-z0-9-]{0,8}", fullmatch=True)
#: Ids a gateway may have (not a reserved one such as "api": telemetry.topics.reserved_id).
gateway_ids = ids.filter(topics.valid_gateway_id)


names = st.sampled_from([*sorted(FIELDS), "voltage", "x_1"])


numbers = st.one_of(st.integers(-(2**53), 2**53), st.floats(allow_nan=False, allow_infinity=False))


readings = st.builds(
    Reading,
    sensor=ids,
    measurement=st.sampled_from(["air_quality", "traffic", "weather", "m_1"]),
    time=st.integers(T0, T0 + 10**9),
    fields=st.dictionaries(names, numbers, min_size=1, max_size=6),
    tags=st.dictionaries(
        st.sampled_from(READING_TAGS), st.from_regex(r"[A-Za-z0-9_.-]{1,8}", fullmatch=True)
    ),
)


batches = st.builds(
    Batch,
    gateway=gateway_ids,
    seq=st.integers(0, 2**40),
    sent=st.integers(T0, T0 + 10**9),
    readings=st.lists(readings, min_size=1, max_size=20),
)
