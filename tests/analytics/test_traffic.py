"""analytics.traffic against DOMAIN.md: ekr at every flow and width switch
(tests/analytics/cases/ekr.csv), flow in skr/jam, C0, DJ, and the 85th-percentile speed held
to an independent reference (statistics.quantiles) by property tests."""

from __future__ import annotations

import csv
import math
import statistics
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analytics import traffic

CASES = Path(__file__).parent / "cases"


def _rows(name: str) -> list[dict[str, str]]:
    with open(CASES / name, newline="") as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


EKR_ROWS = _rows("ekr.csv")


@pytest.mark.parametrize("row", EKR_ROWS, ids=[r["note"] for r in EKR_ROWS])
def test_ekr_golden_case(row: dict[str, str]) -> None:
    width = float(row["width_m"]) if row["width_m"] else None
    got = traffic.ekr(row["road_type"], float(row["flow_veh_h"]), width)
    ks = float(row["KS"])
    want = {"SM": float(row["SM"]), "MP": float(row["MP"]), "KS": ks, "BB": ks, "TB": ks}
    assert got == want


def test_ekr_of_2_2_tt_needs_the_width_and_names_it() -> None:
    with pytest.raises(ValueError, match=r"2/2-TT: the SM ekr depends on the carriageway width"):
        traffic.ekr("2/2-TT", 900)
    with pytest.raises(ValueError, match=r"carriageway width \(m\) = 0: must be > 0"):
        traffic.ekr("2/2-TT", 900, 0)


def test_ekr_refusals_name_the_problem() -> None:
    with pytest.raises(ValueError, match=r"unknown road type '3/1'; road types are"):
        traffic.ekr("3/1", 100)
    with pytest.raises(ValueError, match=r"no ekr table for road type '4/2-TT'"):
        traffic.ekr("4/2UD", 100)
    with pytest.raises(ValueError, match=r"flow \(direction, veh/h\) -1 is negative"):
        traffic.ekr("4/2-T", -1)


def test_ekr_outside_towns_leaves_large_vehicles_to_the_caller() -> None:
    assert set(traffic.ekr("4/2-T", 10, urban=False)) == {"SM", "MP", "KS"}


def test_signalised_junction_ekr() -> None:
    assert traffic.ekr_signalised("protected") == {
        "MP": 1.0,
        "KS": 1.3,
        "SM": 0.15,
        "BB": 1.3,
        "TB": 1.3,
    }
    assert traffic.ekr_signalised("opposed")["SM"] == 0.40
    with pytest.raises(ValueError, match="phase 'green'"):
        traffic.ekr_signalised("green")  # type: ignore[arg-type]


def test_classes_and_their_older_names() -> None:
    assert traffic.CLASSES == ("SM", "MP", "KS", "BB", "TB", "KTB")
    assert traffic.class_key("kr") == "MP"
    assert traffic.class_key(" ktb ") == "KTB"
    with pytest.raises(ValueError, match=r"unknown vehicle class 'XL'; classes are \['SM'"):
        traffic.class_key("XL")
    assert traffic.fold_classes({"SM": 10, "BB": 2, "TB": 3, "KS": 1, "KR": 4}) == {
        "SM": 10,
        "KS": 6,
        "MP": 4,
    }


def test_flow_in_skr_per_hour() -> None:
    ekr = traffic.ekr("2/2-TT", 1000, 7.0)  # SM 0.4, MP 1, KS/BB/TB 1.3
    counts = {"SM": 100, "KR": 50, "KS": 10, "TB": 2, "KTB": 40}
    # 15 minutes: (100*0.4 + 50 + 12*1.3) * 4 = 422.4 skr/jam; KTB is side friction, not flow
    assert traffic.flow_skr(counts, ekr, 900) == pytest.approx(422.4)
    assert traffic.flow_skr({"SM": 1000}, ekr) == pytest.approx(400.0)  # hourly rates
    with_ktb = traffic.flow_skr({"KTB": 10}, {"KTB": 0.5}, 3600, not_in_flow=())
    assert with_ktb == pytest.approx(5.0)


def test_flow_refusals() -> None:
    with pytest.raises(ValueError, match=r"no ekr for vehicle class 'BB'"):
        traffic.flow_skr({"BB": 1}, {"SM": 0.4}, 60)
    with pytest.raises(ValueError, match=r"count of SM -1 is negative"):
        traffic.flow_skr({"SM": -1}, {"SM": 0.4}, 60)
    with pytest.raises(ValueError, match=r"interval \(s\) = 0: must be > 0"):
        traffic.flow_skr({"SM": 1}, {"SM": 0.4}, 0)


def test_base_capacity_pkji_2023_and_mkji_1997() -> None:
    assert traffic.base_capacity("2/2-TT") == 2800
    assert traffic.base_capacity("4/2-T") == 4 * 1700
    assert traffic.base_capacity("6/2D") == 6 * 1700
    assert traffic.base_capacity("4/2-T", lanes=2) == 3400  # one direction
    mkji = traffic.BASE_CAPACITY_MKJI_1997
    assert traffic.base_capacity("2/2UD", table=mkji) == 2900
    assert traffic.base_capacity("4/2-T", table=mkji) == 4 * 1650
    assert traffic.base_capacity("4/2-TT", table=mkji) == 4 * 1500
    with pytest.raises(ValueError, match=r"no base capacity for road type '4/2-TT'"):
        traffic.base_capacity("4/2-TT")
    with pytest.raises(ValueError, match=r"lanes = 0"):
        traffic.base_capacity("4/2-T", lanes=0)


def test_capacity_factors_and_degree_of_saturation() -> None:
    c = traffic.capacity(2800, {"FCLJ": 0.87, "FCPA": 1.0, "FCHS": 0.94, "FCUK": 0.86})
    assert c == pytest.approx(2800 * 0.87 * 0.94 * 0.86)
    with pytest.raises(ValueError, match=r"capacity factor FCHS = 0: must be > 0"):
        traffic.capacity(2800, {"FCHS": 0})
    assert traffic.degree_of_saturation(2380, 2800) == pytest.approx(0.85)
    assert traffic.within_design_limit(0.85)
    assert not traffic.within_design_limit(0.8501)
    assert traffic.DJ_DESIGN_LIMIT == 0.85
    with pytest.raises(ValueError, match=r"capacity \(skr/jam\) = 0: must be > 0"):
        traffic.degree_of_saturation(100, 0)
    assert traffic.travel_time_s(1.5, 45) == pytest.approx(120.0)


def test_p85_nearest_rank_is_a_measured_speed() -> None:
    speeds = [float(v) for v in range(1, 21)]  # 20 vehicles: rank ceil(17.0) = 17, not 18
    assert traffic.speed_p85(speeds) == 17.0
    assert traffic.speed_p85([42.0]) == 42.0
    assert traffic.percentile([10, 20, 30, 40], 85, "linear") == pytest.approx(35.5)
    with pytest.raises(ValueError, match="at least one"):
        traffic.speed_p85([])
    with pytest.raises(ValueError, match=r"speed \(km/h\) -3 is negative"):
        traffic.speed_p85([50, -3])
    with pytest.raises(ValueError, match=r"percent = 101"):
        traffic.percentile([1], 101)


def test_space_mean_speed_is_the_harmonic_mean() -> None:
    assert traffic.space_mean_speed([30, 60]) == pytest.approx(40.0)


speeds = st.lists(st.floats(min_value=0, max_value=200, allow_nan=False), min_size=1, max_size=60)


@given(speeds, st.integers(min_value=1, max_value=100))
def test_nearest_rank_property(values: list[float], percent: int) -> None:
    got = traffic.percentile(values, percent)
    assert got in values
    at_or_below = sum(1 for v in values if v <= got)
    assert at_or_below >= math.ceil(percent * len(values) / 100)
    assert sum(1 for v in values if v < got) < math.ceil(percent * len(values) / 100)


@given(speeds.filter(lambda v: len(v) >= 2), st.integers(min_value=1, max_value=99))
def test_linear_percentile_matches_statistics_quantiles(values: list[float], percent: int) -> None:
    reference = statistics.quantiles(values, n=100, method="inclusive")[percent - 1]
    assert traffic.percentile(values, percent, "linear") == pytest.approx(reference, abs=1e-9)


@given(
    st.dictionaries(
        st.sampled_from(["SM", "MP", "KS", "BB", "TB"]),
        st.integers(min_value=0, max_value=5000),
        min_size=1,
    ),
    st.floats(min_value=0, max_value=5000),
)
def test_flow_is_at_least_the_motorcycle_share_and_at_most_the_heavy_share(
    counts: dict[str, int], flow_veh_h: float
) -> None:
    ekr = traffic.ekr("2/2-TT", flow_veh_h, 7.0)
    q = traffic.flow_skr(counts, ekr)
    vehicles = sum(counts.values())
    assert min(ekr.values()) * vehicles - 1e-6 <= q <= max(ekr.values()) * vehicles + 1e-6


def test_an_ekr_of_zero_leaves_a_class_out_and_a_negative_one_is_refused() -> None:
    assert traffic.flow_skr({"SM": 10, "MP": 5}, {"SM": 0, "MP": 1.0}) == 5.0
    with pytest.raises(ValueError, match=r"ekr of SM -0.5 is negative"):
        traffic.flow_skr({"SM": 10}, {"SM": -0.5})
