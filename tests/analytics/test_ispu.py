"""analytics.ispu against DOMAIN.md's ISPU table: golden cases at every breakpoint of every
parameter in both band variants (tests/analytics/cases/ispu.csv), refusals, the station
index, and properties (monotonic, category consistent, variants within one point)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analytics import ispu

CASES = Path(__file__).parent / "cases"


def _rows(name: str) -> list[dict[str, str]]:
    with open(CASES / name, newline="") as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


ISPU_ROWS = _rows("ispu.csv")
SCALES = {"continuous": ispu.IspuScale(), "openaq": ispu.IspuScale(variant="openaq")}
#: DOMAIN.md's table once more, typed from the document: (ISPU, {parameter: upper µg/m³}).
DOMAIN_TABLE = {
    50: {"pm25": 15.5, "pm10": 50, "so2": 52, "co": 4000, "o3": 120, "no2": 80, "hc": 45},
    100: {"pm25": 55.4, "pm10": 150, "so2": 180, "co": 8000, "o3": 235, "no2": 200, "hc": 100},
    200: {"pm25": 150.4, "pm10": 350, "so2": 400, "co": 15000, "o3": 400, "no2": 1130, "hc": 215},
    300: {"pm25": 250.4, "pm10": 420, "so2": 800, "co": 30000, "o3": 800, "no2": 2260, "hc": 432},
    500: {"pm25": 500, "pm10": 500, "so2": 1200, "co": 45000, "o3": 1000, "no2": 3000, "hc": 648},
}


def test_golden_file_covers_every_breakpoint_of_every_parameter_in_both_variants() -> None:
    seen = {(r["variant"], r["parameter"], float(r["concentration"])) for r in ISPU_ROWS}
    for variant in SCALES:
        for row in DOMAIN_TABLE.values():
            for parameter, upper in row.items():
                assert (variant, parameter, float(upper)) in seen
        for parameter in ispu.PARAMETERS:
            assert (variant, parameter, 0.0) in seen


@pytest.mark.parametrize(
    "row",
    ISPU_ROWS,
    ids=[f"{r['variant']}-{r['parameter']}-{r['concentration']}" for r in ISPU_ROWS],
)
def test_golden_case(row: dict[str, str]) -> None:
    scale = SCALES[row["variant"]]
    index = scale.sub_index(row["parameter"], float(row["concentration"]))
    assert index == pytest.approx(float(row["index"]), abs=1e-6), row["note"]
    assert ispu.category(index).key == row["category"], row["note"]


def test_breakpoints_are_domain_md_table() -> None:
    for step, row in DOMAIN_TABLE.items():
        n = ispu.INDEX_STEPS.index(step)
        for parameter, upper in row.items():
            assert ispu.BREAKPOINTS[parameter][n] == upper


@pytest.mark.parametrize("variant", sorted(SCALES))
@pytest.mark.parametrize("parameter", ispu.PARAMETERS)
def test_negative_concentration_is_refused_naming_the_parameter(
    variant: str, parameter: str
) -> None:
    with pytest.raises(ValueError, match=rf"^{parameter} concentration -0.1 is negative$"):
        SCALES[variant].sub_index(parameter, -0.1)


@pytest.mark.parametrize("bad", [math.nan, math.inf, "12a", None])
def test_non_numbers_are_refused_naming_the_parameter(bad: object) -> None:
    with pytest.raises(ValueError, match=r"^pm10 concentration .* not a"):
        ispu.ispu_index("pm10", bad)  # type: ignore[arg-type]


def test_unknown_parameter_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"no ISPU breakpoints for 'pm1'; known: \['co'"):
        ispu.ispu_index("pm1", 3)


def test_parameter_names_as_people_write_them() -> None:
    assert ispu.ispu_index("PM2.5", 15.5) == 50
    assert ispu.ispu_index("PM 10", 150) == 100
    assert ispu.station_ispu({"NO2": 200}).parameter == "no2"


def test_categories_colours_keys_and_labels() -> None:
    got = [(c.key, c.label_id, c.label_en, c.colour, c.lower, c.upper) for c in ispu.CATEGORIES]
    assert got == [
        ("baik", "Baik", "Good", "#00cc00", 0, 50),
        ("sedang", "Sedang", "Moderate", "#0000cc", 51, 100),
        ("tidak_sehat", "Tidak Sehat", "Unhealthy", "#cccc00", 101, 200),
        ("sangat_tidak_sehat", "Sangat Tidak Sehat", "Very unhealthy", "#cc0000", 201, 300),
        ("berbahaya", "Berbahaya", "Hazardous", "#000000", 301, math.inf),
    ]
    assert [c.colour_id for c in ispu.CATEGORIES] == ["hijau", "biru", "kuning", "merah", "hitam"]
    assert ispu.category(120).label() == "Tidak Sehat"
    assert ispu.category(120).label("en") == "Unhealthy"


@pytest.mark.parametrize(
    ("index", "key"),
    [
        (0, "baik"),
        (50, "baik"),
        (50.01, "sedang"),
        (100, "sedang"),
        (100.01, "tidak_sehat"),
        (200, "tidak_sehat"),
        (200.01, "sangat_tidak_sehat"),
        (300, "sangat_tidak_sehat"),
        (300.01, "berbahaya"),
        (500, "berbahaya"),
        (562, "berbahaya"),
    ],
)
def test_category_edges(index: float, key: str) -> None:
    assert ispu.category(index).key == key


def test_rank_and_the_simulators_api() -> None:
    # The API the simulators use (they had their own copy before analytics/ existed).
    assert ispu.CATEGORY_KEYS == (
        "baik",
        "sedang",
        "tidak_sehat",
        "sangat_tidak_sehat",
        "berbahaya",
    )
    assert [ispu.rank(k) for k in ispu.CATEGORY_KEYS] == [0, 1, 2, 3, 4]
    assert ispu.category_of("pm25", 251).label("id") == "Berbahaya"
    assert ispu.category_by_key("sedang").upper == 100
    with pytest.raises(ValueError, match="unknown ISPU category 'bagus'"):
        ispu.rank("bagus")
    with pytest.raises(ValueError, match="ISPU index -1"):
        ispu.category(-1)


def test_station_ispu_is_the_highest_sub_index_with_its_parameter() -> None:
    got = ispu.station_ispu({"pm25": 40.0, "pm10": 300.0, "co": 1000.0, "o3": None})
    assert got.parameter == "pm10"
    assert got.index == pytest.approx(175.0)
    assert got.category.key == "tidak_sehat"
    assert set(got.sub_indices) == {"pm25", "pm10", "co"}
    tie = ispu.station_ispu({"hc": 1000, "pm10": 900, "pm25": 600})  # all clamp at 500
    assert tie.parameter == "pm25"  # ties: the table's column order
    with pytest.raises(ValueError, match="no concentrations"):
        ispu.station_ispu({"pm25": None})
    with pytest.raises(ValueError, match="so2 concentration -5 is negative"):
        ispu.station_ispu({"pm25": 10, "so2": -5})


def test_averaging_periods_are_data_and_short_windows_are_indicative() -> None:
    assert dict(ispu.AVERAGING_HOURS) == {p: 24.0 for p in ispu.PARAMETERS}
    assert ispu.DEFAULT_SCALE.indicative("pm25", 1)
    assert not ispu.DEFAULT_SCALE.indicative("pm25", 24)
    old = ispu.IspuScale(averaging_hours=ispu.AVERAGING_HOURS_1997)
    assert not old.indicative("o3", 1) and old.indicative("co", 4)
    assert old.averaging_hours["pm10"] == 24


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"variant": "us"}, r"variant = 'us': use one of \['continuous', 'openaq'\]"),
        ({"averaging_hours": {"co": 0}}, r"averaging_hours.co = 0: must be > 0"),
        ({"breakpoints": {"pm25": (1, 2, 3)}}, r"breakpoints.pm25 = \[1.0, 2.0, 3.0\]: give 5"),
        ({"breakpoints": {"pm25": (5, 4, 6, 7, 8)}}, r"breakpoints.pm25 = .*must rise"),
        ({"openaq_step": {"pm10": -1}}, r"openaq_step.pm10 = -1: must be > 0"),
    ],
)
def test_scale_config_errors_name_key_and_value(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ispu.IspuScale(**kwargs)


def test_overriding_one_parameter_keeps_the_others() -> None:
    scale = ispu.IspuScale(breakpoints={"PM2.5": (10, 20, 30, 40, 50)})
    assert scale.sub_index("pm25", 20) == 100
    assert scale.sub_index("pm10", 150) == 100


# -- properties -------------------------------------------------------------------------------
concentrations = st.floats(min_value=0, max_value=100_000, allow_nan=False)


@given(
    parameter=st.sampled_from(ispu.PARAMETERS),
    variant=st.sampled_from(sorted(SCALES)),
    a=concentrations,
    b=concentrations,
)
def test_index_never_falls_when_the_concentration_rises(
    parameter: str, variant: str, a: float, b: float
) -> None:
    low, high = sorted((a, b))
    scale = SCALES[variant]
    assert 0 <= scale.sub_index(parameter, low) <= scale.sub_index(parameter, high) <= 500


@given(parameter=st.sampled_from(ispu.PARAMETERS), x=concentrations)
def test_category_is_consistent_with_the_index(parameter: str, x: float) -> None:
    for scale in SCALES.values():
        index = scale.sub_index(parameter, x)
        cat = ispu.category(index)
        previous = ispu.CATEGORIES[ispu.rank(cat.key) - 1] if ispu.rank(cat.key) else None
        assert index <= cat.upper
        assert previous is None or index > previous.upper
        assert ispu.category_of(parameter, x, scale) == cat


@given(parameter=st.sampled_from(ispu.PARAMETERS), x=concentrations)
def test_the_two_variants_differ_by_at_most_one_point_and_one_table_step(
    parameter: str, x: float
) -> None:
    """The openaq variant starts each band one table step above the previous row with an index
    one above it, so the two differ by at most one point plus what the index rises over one
    step there (pm10 421: 302.5 against 301.0, where one step of 1 µg/m³ is 1.25 points)."""
    a = SCALES["continuous"].sub_index(parameter, x)
    b = SCALES["openaq"].sub_index(parameter, x)
    step = ispu.OPENAQ_STEP.get(parameter, 1.0)
    rise = a - SCALES["continuous"].sub_index(parameter, max(0.0, x - step))
    assert abs(a - b) <= 1.0 + rise + 1e-9


@given(st.dictionaries(st.sampled_from(ispu.PARAMETERS), concentrations, min_size=1, max_size=7))
def test_station_index_is_the_max_and_names_a_parameter_that_gives_it(values: dict) -> None:
    got = ispu.station_ispu(values)
    assert got.index == max(ispu.ispu_index(p, x) for p, x in values.items())
    assert ispu.ispu_index(got.parameter, values[got.parameter]) == got.index
