"""docs/configuration.md is generated from the config models and must match them."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import BaseModel, Field

from api.settings import ApiSettings
from gateway.config import GatewayConfig
from gateway.devices import DRIVERS
from gateway.devices.base import DeviceConfig
from indicators.config import IndicatorsConfig
from indicators.settings import AnalyticsBackfillSettings, AnalyticsRunSettings
from ingest.settings import IngestRunSettings
from jagajalan.cli import build_parser, main
from jagajalan.configdoc import DOC, generate
from kernel.configdoc import UndocumentedError, options_table, toml_tables
from kernel.settings import ServiceSettings, options
from registry.settings import RegistrySettings
from simulators.scenario.config import ScenarioFile
from store.settings import BackfillSettings, StoreSetupSettings

SERVICES = (
    ApiSettings,
    IngestRunSettings,
    StoreSetupSettings,
    BackfillSettings,
    AnalyticsRunSettings,
    AnalyticsBackfillSettings,
    RegistrySettings,
)


def test_the_checked_in_reference_is_current() -> None:
    fresh, current = generate(), DOC.read_text(encoding="utf-8")
    if fresh != current:
        diff = difflib.unified_diff(
            current.splitlines(),
            fresh.splitlines(),
            "checked in",
            "from the models",
            n=1,
            lineterm="",
        )
        pytest.fail(
            f"{DOC.relative_to(DOC.parents[1])} is stale: run `jagajalan config docs` and "
            "commit the result. Differences:\n" + "\n".join(list(diff)[:40])
        )


def test_every_option_and_key_is_in_the_reference() -> None:
    text = DOC.read_text(encoding="utf-8")
    for cls in SERVICES:
        assert f"### `{cls.command}`" in text
        for option in options(cls):
            assert f"`{option.flag}`" in text and f"`{option.env}`" in text, option.flag
    skip_driver = ("driver", "serial")  # the driver names the section; serial is a table
    models = [(GatewayConfig, ("devices",)), (ScenarioFile, ()), (DeviceConfig, ())]
    models += [(IndicatorsConfig, ())]
    models += [(config, skip_driver) for config, _ in DRIVERS.values()]
    for model, skip in models:
        for table in toml_tables(model, skip=skip):
            for key, *_ in table.rows:
                assert f"| {key} |" in text, (model.__name__, key)
    for name in DRIVERS:
        assert f'`[[devices]] with driver = "{name}"`' in text


def test_help_and_reference_come_from_the_same_fields() -> None:
    parser = build_parser()
    for cls, argv in (
        (ApiSettings, ["api", "run"]),
        (IngestRunSettings, ["ingest", "run"]),
        (StoreSetupSettings, ["store", "setup"]),
        (BackfillSettings, ["store", "backfill"]),
    ):
        command = parser._subparsers._group_actions[0].choices[argv[0]]  # type: ignore[union-attr]
        sub = command._subparsers._group_actions[0].choices[argv[1]]  # type: ignore[union-attr]
        help_text = " ".join(sub.format_help().split())
        table = options_table(cls)
        for option in options(cls):
            description = " ".join((option.field.description or "").split())
            assert option.flag in help_text and description in help_text, option.flag
            assert description in table


def test_a_field_without_description_is_refused() -> None:
    class Bare(BaseModel):
        documented: int = Field(1, description="has words")
        bare: int = 2

    class BareSettings(ServiceSettings, Bare):
        command: ClassVar[str] = "bare"

    with pytest.raises(UndocumentedError, match=r"Bare\.bare"):
        toml_tables(Bare)
    with pytest.raises(UndocumentedError, match=r"BareSettings\.bare"):
        options_table(BareSettings)


def test_the_command_writes_and_checks(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "configuration.md"
    assert main(["config", "docs", "--output", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == generate()
    assert main(["config", "docs", "--output", str(out), "--check"]) == 0
    out.write_text(out.read_text(encoding="utf-8").replace("--batch-size", "--batch-sise"))
    assert main(["config", "docs", "--output", str(out), "--check"]) == 1
    assert "is out of date: run `jagajalan config docs`" in capsys.readouterr().err
