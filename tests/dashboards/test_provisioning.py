"""The provisioning files agree with the code: the data source is the one every panel names,
read as the read-only user that ``store setup`` makes, with no secret in the file; the
dashboards provider puts them in the folder ``dashboards push`` uses."""

from __future__ import annotations

import yaml

from dashboards import push
from dashboards.generate import FOLDER
from dashboards.model import DATASOURCE
from store.privileges import READ, SERVICES

PROVISIONING = FOLDER / "provisioning"


def _load(kind: str) -> dict:
    return yaml.safe_load((PROVISIONING / kind / "jagajalan.yaml").read_text(encoding="utf-8"))


def test_the_data_source_is_the_panels_one_read_only_and_without_a_secret() -> None:
    (source,) = _load("datasources")["datasources"]
    assert {"uid": source["uid"], "type": source["type"]} == DATASOURCE
    grafana = SERVICES["grafana"]
    assert grafana.privilege == READ
    assert source["user"] == grafana.default_username
    assert source["secureJsonData"]["password"].startswith("$__file{/")
    assert source["jsonData"]["dbName"] == "${JAGAJALAN_INFLUX_DB}"
    assert source["url"] == "${JAGAJALAN_INFLUX_URL}"
    assert source["editable"] is False


def test_the_dashboards_go_to_the_folder_push_uses() -> None:
    (provider,) = _load("dashboards")["providers"]
    assert provider["folderUid"] == push.FOLDER_UID
    assert provider["folder"] == push.FOLDER_TITLE
    assert provider["type"] == "file" and provider["allowUiUpdates"] is False
