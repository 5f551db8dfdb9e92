"""``GET /metrics`` of the API: requests counted by route template and status class, in-flight
requests, store calls timed and failures counted per store method; parsed as Prometheus reads
it (prometheus_client's parser)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.access import open_reads
from api.app import create_app
from store import GatewaySeen, StoreUnavailable
from store.sqlite import SQLiteStore
from testkit.points import GW1, T0, air, batch_point

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)  # see tests/api/test_api.py
    from fastapi.testclient import TestClient

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: TestClient) -> Samples:
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "api.sqlite")
    store.ensure()
    store.write([air(GW1, T0, pm25=41.3), batch_point(GW1, 1, T0 + 5_000)])
    yield store
    store.close()


def test_requests_are_counted_by_route_template_and_status_class(store: SQLiteStore) -> None:
    client = TestClient(create_app(store, access=open_reads()))
    before = scrape(client)
    assert client.get(f"/gateways/{GW1}").status_code == 200
    assert client.get("/gateways/no-such-gateway").status_code == 404
    assert client.get("/gateways/another-id").status_code == 404
    assert client.get("/no/such/path/42").status_code == 404
    assert client.get("/?lang=xx").status_code == 422  # a bad request: a 4xx
    assert client.get("/health").status_code == 200
    assert client.get("/static/swagger-ui/swagger-ui.css").status_code == 200  # a mount
    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "jagajalan_api_requests_total"
    assert moved(requests, route="/gateways/{gateway}", status="2xx") == 1
    assert moved(requests, route="/gateways/{gateway}", status="4xx") == 2
    assert moved(requests, route="unmatched", status="4xx") == 1
    assert moved(requests, route="/", status="4xx") == 1
    assert moved(requests, route="/health", status="2xx") == 1
    assert moved(requests, route="/metrics", status="2xx") == 1  # the first scrape
    assert moved(requests, route="/static", status="2xx") == 1
    total = sum(v - value(before, n, **dict(k)) for (n, k), v in after.items() if n == requests)
    assert total == 8
    seconds = "jagajalan_api_request_seconds_count"
    assert moved(seconds, route="/gateways/{gateway}", status="4xx") == 2
    assert value(after, "jagajalan_api_request_seconds_sum", route="/health", status="2xx") > 0
    assert value(after, "jagajalan_api_requests_in_flight") == 1  # the scrape itself

    # Label values are the app's route templates, never a path asked for.
    routes = {dict(k)["route"] for (n, k), _ in after.items() if n == requests}
    assert routes == {"/gateways/{gateway}", "unmatched", "/", "/health", "/metrics", "/static"}
    text = client.get("/metrics").text
    assert "no-such-gateway" not in text and "another-id" not in text and GW1 not in text

    # Store calls by method: each /gateways/{gateway} reads gateways once, and for a gateway
    # seen also the newest status and devices; /health pings and checks that it may read.
    assert moved("jagajalan_api_store_seconds_count", method="gateways") == 3
    assert moved("jagajalan_api_store_seconds_count", method="newest") == 2
    assert moved("jagajalan_api_store_seconds_count", method="ping") == 1
    assert moved("jagajalan_api_store_seconds_count", method="check_read") == 1
    assert not any(n == "jagajalan_api_store_errors_total" for (n, _) in after)


class _Down(SQLiteStore):
    def gateways(self) -> list[GatewaySeen]:
        raise StoreUnavailable("connection refused")


def test_store_failures_are_counted_by_method_and_kind(tmp_path: Path) -> None:
    down = _Down(tmp_path / "s.sqlite")
    down.ensure()
    try:
        client = TestClient(create_app(down, access=open_reads()))
        assert client.get("/gateways").status_code == 503
        assert client.get("/gateways").status_code == 503
        samples = scrape(client)
    finally:
        down.close()
    errors = "jagajalan_api_store_errors_total"
    assert value(samples, errors, method="gateways", kind="transient") == 2
    assert value(samples, "jagajalan_api_store_seconds_count", method="gateways") == 2
    assert value(samples, "jagajalan_api_requests_total", route="/gateways", status="5xx") == 2


def test_metrics_is_not_in_the_openapi_document(store: SQLiteStore) -> None:
    client = TestClient(create_app(store, access=open_reads()))
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]
    assert "/metrics" not in str(client.get("/").json()["endpoints"])


def test_two_apps_count_apart(store: SQLiteStore) -> None:
    one, two = (
        TestClient(create_app(store, access=open_reads())),
        TestClient(create_app(store, access=open_reads())),
    )
    one.get("/health")
    assert value(scrape(two), "jagajalan_api_requests_total", route="/health", status="2xx") == 0
