"""Every operation of the API's own OpenAPI document, fuzzed by schemathesis in-process (ASGI),
over a SQLite store holding readings, batches and statuses with devices of two gateways, so
that the answers are not empty.

Per generated request: no 5xx, the status code is one the operation documents, the
content type is one it documents, and the body matches the documented schema (headers too).
Then again over a store that cannot be opened: every answer is a documented 503 (or a 4xx for
a request refused before the store is asked), in the documented shape. Examples per operation
are bounded and derandomized (and Hypothesis' example database is off), so a run is
reproducible and short (about 20 s here).

Not checked here: ``/metrics`` and ``/docs`` (not in the OpenAPI document by design) and
``/static/...`` (files). Everything in ``/openapi.json`` is.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

from api.access import Access, Limits, registry_check
from api.app import create_app
from registry import db, keys
from registry.read import RegistryReader
from store.sqlite import SQLiteStore
from telemetry import Status
from telemetry.mapping import Point, status_points
from testkit.points import GW1, GW2, MIN, T0, air, batch_point, traffic
from testkit.sites import import_registry

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)  # see tests/api/test_api.py
    from fastapi.testclient import TestClient

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
#: Generated requests per operation (plus its documented examples).
MAX_EXAMPLES = 100


def seed(store: SQLiteStore) -> None:
    """Readings of both gateways (air, traffic, water), their batches, and statuses: GW1 online
    with devices (one unplugged, one stuck), GW2 offline (a Last Will)."""
    store.write(
        [
            air(GW1, T0, pm25=41.3, pm10=63.0),
            air(GW1, T0 + MIN, pm25=40.0),
            traffic(GW1, "1", T0, count=37, speed_mean=42.6),
            traffic(GW1, "1", T0 + MIN, count=0),
            Point("water_level", {"gateway": GW1, "sensor": "wl1"}, {"level": 12.5}, T0),
            air(GW2, T0 + 2 * MIN, pm25=12.5, pm10=20.0),
            batch_point(GW1, 1841, T0 + 5_000),
            batch_point(GW1, 1842, T0 + MIN + 5_123),
            batch_point(GW2, 7, T0 + 2 * MIN),
        ]
    )
    statuses = [
        Status(gateway=GW1, state="online", time=T0, devices={"wl1": "ok", "env1": "ok"}),
        Status(
            gateway=GW1,
            state="online",
            time=T0 + MIN,
            devices={"wl1": "unplugged", "env1": "ok", "cnt1": "ok"},
            spool_depth=120,
            spool_oldest_age=61.5,
            dropped=4,
            spool_errors=0,
            clock_offset=-0.4,
            errors={"wl1": {"unplugged": 2}},
            last_error={"wl1": "/dev/ttyUSB3: gone"},
            info={"env1": {"stuck": ["pm25"]}},
        ),
        Status(gateway=GW2, state="offline", time=T0 + 3 * MIN),
    ]
    for s in statuses:
        store.write(status_points(s, s.time or 0))


#: The operations of the document, read without a store (building the document reads none).
OPERATIONS = sorted(
    (method.upper(), path)
    for path, ops in create_app(SQLiteStore(Path("unused.sqlite"))).openapi()["paths"].items()
    for method in ops
)


#: Operations without any parameter (no negative requests exist for them).
NO_PARAMETERS = {
    ("POST", "/alerts/ack"),  # a body only
    ("GET", "/gateways"),
    ("GET", "/health"),
    ("GET", "/whoami"),
    ("GET", "/keys"),
    ("GET", "/releases"),
    ("GET", "/sites"),
    ("GET", "/sites/latest"),
    ("GET", "/registry/contacts"),
}


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Access, dict[str, str]]]:
    """Reads open (no rate limit) and a real registry with an admin key, sent with every
    request, so /whoami and /keys answer too (test_auth.py tests the refusals)."""
    engine = db.engine_for(f"sqlite+pysqlite:///{tmp_path_factory.mktemp('reg') / 'r.sqlite3'}")
    db.upgrade(engine)
    import_registry(engine, tmp_path_factory.mktemp("regdoc") / "registry.toml")  # GW1, GW2
    key = keys.create(engine, "admin", "fuzz-admin")[1]
    access = Access(registry_check(engine), engine=engine, public=None, limits=Limits({}))
    yield access, {"Authorization": f"Bearer {key}"}
    engine.dispose()


@pytest.fixture(scope="module")
def api_schema(
    tmp_path_factory: pytest.TempPathFactory, admin: tuple[Access, dict[str, str]]
) -> Iterator[OpenApiSchema]:
    store = SQLiteStore(tmp_path_factory.mktemp("fuzz") / "api.sqlite")
    store.ensure()
    seed(store)
    app = create_app(store, access=admin[0], registry=RegistryReader(admin[0].engine))
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    store.close()


@pytest.mark.parametrize(
    ("method", "path", "mode"),
    [(*op, GenerationMode.POSITIVE) for op in OPERATIONS]
    + [(*op, GenerationMode.NEGATIVE) for op in OPERATIONS if op not in NO_PARAMETERS],
    ids=str,
)
def test_every_operation_answers_as_documented(
    api_schema: OpenApiSchema,
    admin: tuple[Access, dict[str, str]],
    method: str,
    path: str,
    mode: GenerationMode,
) -> None:
    """Positive: valid requests (the documented examples first, then generated ones);
    negative: requests that break the schema, which must be refused with a documented 4xx.
    An operation without parameters cannot be sent a request that breaks its schema, so it
    has no negative run (:data:`NO_PARAMETERS`, checked against the document below)."""
    operation = api_schema[path][method]
    checks = CHECKS + ([negative_data_rejection] if mode is GenerationMode.NEGATIVE else [])
    strategy = operation.as_strategy(generation_mode=mode)
    if mode is GenerationMode.POSITIVE:
        strategy = st.one_of(*operation.get_strategies_from_examples(), strategy)
    sent: set[str] = set()

    @given(case=strategy)
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        response = case.call_and_validate(headers=admin[1], checks=checks)
        sent.add(response.request.url)

    run()
    assert len(sent) >= (1 if (method, path) in NO_PARAMETERS else 3), sent


@pytest.fixture(scope="module")
def store_down_schema(
    tmp_path_factory: pytest.TempPathFactory, admin: tuple[Access, dict[str, str]]
) -> OpenApiSchema:
    """The same app over a store that cannot open its file (its directory is a regular file)."""
    not_a_dir = tmp_path_factory.mktemp("down") / "not-a-dir"
    not_a_dir.write_text("")
    app = create_app(
        SQLiteStore(not_a_dir / "x"), access=admin[0], registry=RegistryReader(admin[0].engine)
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=str)
def test_with_the_store_down_every_operation_answers_as_documented(
    store_down_schema: OpenApiSchema, admin: tuple[Access, dict[str, str]], method: str, path: str
) -> None:
    """The store's 503 (and /health's) is documented, body, content type and headers: checked
    like above, except that a 503 is what is expected here; no other 5xx."""
    operation = store_down_schema[path][method]
    examples = operation.get_strategies_from_examples()
    statuses: set[int] = set()

    @given(case=st.one_of(*examples, operation.as_strategy()))
    @settings(
        max_examples=MAX_EXAMPLES // 5,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        response = case.call_and_validate(headers=admin[1], checks=CHECKS[1:])
        assert response.status_code < 500 or response.status_code == 503, response.text
        statuses.add(response.status_code)

    run()
    store_free = path in ("/", "/whoami", "/keys", "/sites", "/sites/{site}")  # no store read
    store_free = store_free or path.startswith(("/registry/", "/alerts"))  # the registry's
    assert store_free or 503 in statuses, statuses


def test_every_operation_is_fuzzed(api_schema: OpenApiSchema) -> None:
    assert ("GET", "/series") in OPERATIONS and len(OPERATIONS) >= 8
    without = {
        (method, path)
        for method, path in OPERATIONS
        if not (api_schema[path][method].path_parameters or api_schema[path][method].query)
    }
    assert without == NO_PARAMETERS


def test_the_seed_gives_non_empty_answers(api_schema: OpenApiSchema) -> None:
    """The fuzzing above is worth something only if the endpoints have data to answer with."""
    client = TestClient(api_schema.app)
    assert [g["gateway"] for g in client.get("/gateways").json()] == [GW1, GW2]
    assert client.get(f"/gateways/{GW1}").json()["devices_ok"] == 2
    assert client.get("/readings/latest").json()
    assert {c["gateway"] for c in client.get("/conditions").json()} == {GW1, GW2}
    history = client.get(
        f"/gateways/{GW1}/history",
        params={"start": "2025-11-30T07:00:00Z", "end": "2025-11-30T09:00:00Z"},
    )
    assert [c["state"] for c in history.json()["changes"]][:1] == ["online"]
    series = client.get(
        "/series",
        params={
            "measurement": "air_quality",
            "field": "pm25",
            "start": "2025-11-30T00:00:00Z",
            "end": "2025-12-01T00:00:00Z",
        },
    )
    assert len(series.json()["points"]) == 3
    sites = {s["id"]: s for s in client.get("/sites/latest").json()["sites"]}
    assert (sites["pasar-sarolangun"]["online"], sites["pauh"]["online"]) == (True, False)
    assert sites["pasar-sarolangun"]["latest"] and sites["pauh"]["gateways"][0]["id"] == GW2
