"""The FIWARE Smart Data Models' published JSON schemas shipped in smart_data_models/, as
validators that resolve every $ref offline (a $ref to a file not shipped fails), and
:func:`check`: an NGSI-LD entity is valid against its model, with UTC ISO 8601 times. Used by
test_ngsild.py and tests/api/test_ngsild_api.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource

from analytics import ngsild
from simulators.sites import SITES

SCHEMAS = Path(__file__).parent / "smart_data_models"
MODEL_SCHEMA = {
    "AirQualityObserved": "Environment/AirQualityObserved/schema.json",
    "FloodMonitoring": "Environment/FloodMonitoring/schema.json",
    "WeatherObserved": "Weather/WeatherObserved/schema.json",
    "TrafficFlowObserved": "Transportation/TrafficFlowObserved/schema.json",
}
#: A schema the models refer to under a second URL besides its $id.
ALIASES = {
    "https://raw.githubusercontent.com/smart-data-models/dataModel.Environment/master/"
    "Environment-schema.json": "Environment/Environment-schema.json",
}


def _refuse(uri: str) -> Resource:
    raise NoSuchResource(ref=uri)  # no network at test time: every $ref must be shipped


def _registry() -> Registry:
    pairs = []
    for path in sorted(SCHEMAS.rglob("*.json")):
        resource = Resource.from_contents(json.loads(path.read_text()))
        pairs.append((resource.id(), resource))
    for uri, rel in ALIASES.items():
        pairs.append((uri, Resource.from_contents(json.loads((SCHEMAS / rel).read_text()))))
    return Registry(retrieve=_refuse).with_resources(pairs)  # type: ignore[call-arg]


REGISTRY = _registry()
VALIDATORS = {
    model: Draft202012Validator(
        json.loads((SCHEMAS / rel).read_text()), registry=REGISTRY, format_checker=FormatChecker()
    )
    for model, rel in MODEL_SCHEMA.items()
}
SITE_INFO = {
    s.gateway: ngsild.SiteInfo(
        s.gateway, s.name, s.latitude, s.longitude, s.kecamatan, "Kabupaten Sarolangun, Jambi"
    )
    for s in SITES
}


def check(entity: dict[str, Any]) -> None:
    """The entity is valid against its model's published schema, with UTC ISO 8601 times."""
    VALIDATORS[entity["type"]].validate(entity)
    for key in ("dateObserved", "observationDateTime"):
        if key in entity:
            assert entity[key].endswith("Z")
            assert datetime.fromisoformat(entity[key]).tzinfo == UTC
    assert entity["id"].startswith(f"urn:ngsi-ld:{entity['type']}:")
    lon, lat = entity["location"]["coordinates"]
    assert -180 <= lon <= 180 and -90 <= lat <= 90
