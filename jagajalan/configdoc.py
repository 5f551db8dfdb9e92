"""``jagajalan config docs``: write docs/configuration.md from the config models.

The reference of every option of ``api run``, ``ingest run``, ``store setup``,
``store backfill``, ``analytics run`` and ``analytics backfill`` (with its environment
variable, default, allowed values and description) and of every key of the gateway's TOML
file, of scenario files and of the indicators job's file is generated here from the pydantic
models (:mod:`kernel.configdoc`), never written by hand; tests/jagajalan/test_configdoc.py
fails when the checked-in file differs from what this writes. Also
``python -m jagajalan.configdoc``.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"

INTRO = """\
# Configuration reference

Generated from the pydantic models by `jagajalan config docs` (or
`python -m jagajalan.configdoc`); do not edit: `tests/jagajalan/test_configdoc.py` fails when this
file and the models disagree. The same models give `--help` and check every value at start.

## Services: options and environment variables

Every option `--some-name` of `jagajalan api run`, `jagajalan ingest run`,
`jagajalan store setup`, `jagajalan store backfill`, `jagajalan analytics run`,
`jagajalan analytics backfill`, `jagajalan dashboards sites`, `jagajalan dashboards push`
and `jagajalan firmware rollout` can also be given as the environment variable
`JAGAJALAN_SOME_NAME`. The command line wins, then the environment, then the default.

**Secrets** (passwords, tokens) are never command-line values: give the path of a file that
holds the secret (`--x-file`, or `JAGAJALAN_X_FILE`; one trailing line end is ignored; make it
mode 600), or the secret itself in `JAGAJALAN_X` (containers' secret managers). An empty secret
or a well-known default one (`admin`, `changeme`, `password`, ...) is refused. Secrets never
appear in `--help`, errors or logs.

**Paths**: one rule for every path in every config (`kernel/fields.py: resolve_path`). An
absolute path is used as given; `~` is the home folder. A relative path in a config file (the
gateway's, a Modbus profile path in it) is relative to the folder of that file, wherever the
command is run from; a relative path given as an option or an environment variable is relative
to the working folder. Files that `jagajalan` writes (`simulate devices`, `gateway scan`'s
snippet) follow the rule: paths relative to the config's folder, or absolute.

A mistake stops the command before it starts (exit code 2), listing every problem at once,
each with where the value came from, the value (hidden for secrets) and what is allowed:

```
{example}
```
"""

GATEWAY = """\
## Gateway config file (TOML)

`jagajalan gateway run --config /etc/jagajalan/gateway.toml` (example: `examples/gateway.toml`;
check one with `jagajalan gateway check-config`, which prints every path as resolved). Relative
paths (`spool.path`, the `mqtt` files, `serial.port`, a Modbus `profile` file) are relative to
the folder of this file, not to the working folder (see **Paths** above).
Errors name the file, the key, the value and what is allowed; unknown keys are refused.
"""

SCENARIO = """\
## Scenario files (TOML)

`simulators/scenarios/<name>.toml`, run with `jagajalan simulate scenario <name>`; the format
with an example: `docs/simulators.md`. Times are written in WIB: `"day1 14:30"`.
"""

INDICATORS = """\
## Indicators job file (TOML)

`jagajalan analytics run --config analytics.toml` (and `analytics backfill`): the windows of
the indicators and the defaults. Each site's capacity and flood ladder come from the registry
(`--registry-db` / `--registry-url`); a `[[sites]]` entry here overrides, for its gateway,
what it sets (road type, capacity, ladder, hysteresis); a gateway with neither gets the
defaults per road type of ../shared/DOMAIN.md (PKJI 2023 base capacity, the project's
road-depth ladder). Without a file every default applies. Errors name the file, the key and
the value; unknown keys are refused.
"""

ALERTS = """\
## Alert rules file (TOML)

`jagajalan alerts run --rules-file alerts.toml` (examples/alerts.toml): the rules, the routes
(who hears an alert, and who next when nobody acknowledges) and the contacts' quiet hours.
Times are seconds. Every rule has the keys of `[[rules]]` and those of its `kind`. Errors
name the file, the key and the value; unknown keys are refused.
"""

REGISTRY = """\
## Registry file (TOML)

`jagajalan registry import examples/registry.toml` (export one with `jagajalan registry export`;
docs/registry.md; as CSV, one file per table, the columns are these keys, `flood.ladder` and
the like for the flood table). Ids: a gateway's is its MQTT id, a sensor's its device id in
the gateway's config; a gateway names its site, a sensor its gateway. Errors name the file, the
key (such as `sensors[3].gateway`), the value and what is allowed; unknown keys are refused.
"""


def _first_paragraph(text: str | None) -> str:
    return inspect.cleandoc(text or "").split("\n\n")[0].replace("\n", " ")


def _example() -> str:
    """The errors of a mistaken ``ingest run``, as the command prints them."""
    from ingest.settings import IngestRunSettings
    from kernel.settings import SettingsError, load

    args = argparse.Namespace(shared_group="ingest", batch_size="0")
    env = {"JAGAJALAN_INFLUX_URL": "http://influxdb:8086", "JAGAJALAN_INFLUX_TOKEN": "changeme"}
    try:
        load(IngestRunSettings, args, env)
    except SettingsError as exc:
        return exc.render()
    raise AssertionError("the example has no mistake")


def _alert_tables() -> str:
    from alerts.rules.config import KINDS, AlertRules
    from kernel.configdoc import render_tables, toml_tables

    rule_types = {t.model_fields["kind"].annotation.__args__[0]: t for t in _rule_types()}
    out = [render_tables(toml_tables(AlertRules, skip=("rules",)))]
    for kind in KINDS:
        tables = toml_tables(rule_types[kind], "rules", many=True)
        tables[0].heading = f'[[rules]] with kind = "{kind}"'
        out.append(render_tables(tables))
    return "\n".join(out)


def _rule_types() -> list[type]:
    from alerts.rules.config import Absence, LadderRule, Rate, State, Threshold

    return [Threshold, Rate, LadderRule, State, Absence]


def generate() -> str:
    from alerts.settings import AlertsRegistrySettings, AlertsRunSettings
    from api.settings import ApiSettings
    from dashboards.settings import DashboardPushSettings, DashboardSitesSettings
    from firmware_tools.rollout.settings import RolloutSettings
    from gateway.config import GatewayConfig
    from gateway.devices import DRIVERS
    from gateway.devices.base import DeviceConfig, SerialPort
    from indicators.config import IndicatorsConfig
    from indicators.settings import AnalyticsBackfillSettings, AnalyticsRunSettings
    from ingest.settings import IngestRunSettings
    from kernel.configdoc import Table, options_table, render_tables, toml_tables
    from registry.document import RegistryDoc, RiverGauge, RoadDepth
    from registry.settings import RegistrySettings
    from simulators.scenario.config import ScenarioFile
    from store.settings import BackfillSettings, StoreSetupSettings

    parts = [INTRO.replace("{example}", _example())]
    services = (ApiSettings, IngestRunSettings, StoreSetupSettings, BackfillSettings)
    jobs = (AnalyticsRunSettings, AnalyticsBackfillSettings, RegistrySettings)
    dashboards = (DashboardSitesSettings, DashboardPushSettings)
    tools = (AlertsRunSettings, AlertsRegistrySettings, *dashboards, RolloutSettings)
    for cls in (*services, *jobs, *tools):
        parts += [f"### `{cls.command}`", "", options_table(cls), ""]
    parts.append(GATEWAY)
    parts.append(render_tables(toml_tables(GatewayConfig, skip=("devices",))))
    common = toml_tables(DeviceConfig, "devices", many=True)
    common[0].about = (
        "Keys of every device; `driver` (one of: "
        + ", ".join(f"`{name}`" for name in sorted(DRIVERS))
        + ") chooses the other keys, below."
    )
    parts.append(render_tables(common))
    serial = toml_tables(SerialPort, "devices.serial")
    serial[0].about = (
        _first_paragraph(SerialPort.__doc__) + ' Written `serial = { port = "/dev/ttyUSB0" }`.'
    )
    parts.append(render_tables(serial))
    for name, (config, _driver) in sorted(DRIVERS.items()):
        skip = (*DeviceConfig.model_fields, "driver", "serial")
        tables: list[Table] = toml_tables(config, "devices", many=True, skip=skip)
        if tables:
            tables[0].heading = f'[[devices]] with driver = "{name}"'
            tables[0].about = _first_paragraph(sys.modules[config.__module__].__doc__)
        parts.append(render_tables(tables))
    parts.append(SCENARIO)
    parts.append(render_tables(toml_tables(ScenarioFile)))
    parts.append(INDICATORS)
    parts.append(render_tables(toml_tables(IndicatorsConfig)))
    parts.append(ALERTS)
    parts.append(_alert_tables())
    parts.append(REGISTRY)
    parts.append(render_tables(toml_tables(RegistryDoc)))
    for ladder in (RoadDepth, RiverGauge):
        tables = toml_tables(ladder, "sites.flood")
        kind = ladder.model_fields["ladder"].annotation.__args__[0]  # type: ignore[union-attr]
        tables[0].heading = f'[sites.flood] with ladder = "{kind}"'
        parts.append(render_tables(tables))
    return "\n".join(parts).rstrip("\n") + "\n"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("config", help="the configuration reference (docs/configuration.md)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    docs = actions.add_parser(
        "docs",
        help="write docs/configuration.md from the config models",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    docs.add_argument(
        "--output", default=str(DOC), help=f"where to write (default {DOC}; - = stdout)"
    )
    docs.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the file is out of date"
    )
    docs.set_defaults(func=docs_command)


def docs_command(args: argparse.Namespace) -> int:
    text = generate()
    if args.output == "-":
        sys.stdout.write(text)
        return 0
    path = Path(args.output)
    if args.check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            print(f"{path} is out of date: run `jagajalan config docs`", file=sys.stderr)
            return 1
        return 0
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(
        docs_command(
            argparse.Namespace(output=sys.argv[1] if sys.argv[1:] else str(DOC), check=False)
        )
    )
