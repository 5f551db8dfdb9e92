"""What the operator reads: Bahasa Indonesia by default, English on request, one language per
sentence, with the site, road, value and unit, level label, time in WIB and the map link."""

from __future__ import annotations

import datetime as dt

import pytest

from alerts.delivery.compose import Notice, Place, Recipient, body, key_of, messages, subject
from alerts.rules.engine import Event
from testkit.language import judge

# 2026-01-14 02:30 UTC = 09:30 WIB
T = dt.datetime(2026, 1, 14, 2, 30, tzinfo=dt.UTC).timestamp()
FLOOD_UP = Event(
    rule="banjir-jalan",
    gateway="srl-pasar-01",
    sensor="lvl1",
    kind="changed",
    level="bahaya_motor",
    previous="hati_hati",
    up=True,
    severity="critical",
    time_s=T,
    value=24.5,
)
PASAR = Place(site="pasar-sarolangun", name="Pasar Sarolangun", road="Jalan Lintas Sumatera")
TITLE = {"id": "Genangan di jalan", "en": "Water on the road"}
NOTICE = Notice(FLOOD_UP, TITLE, PASAR, unit="cm")


def test_indonesian_text_has_every_fact() -> None:
    text = body(NOTICE, "id", "https://jagajalan.sarolangun.go.id")
    assert text.splitlines() == [
        "Kritis: Genangan di jalan di Pasar Sarolangun naik ke Bahaya bagi sepeda motor",
        "Lokasi: Pasar Sarolangun, Jalan Lintas Sumatera",
        "Sumber: sensor lvl1 pada gateway srl-pasar-01",
        "Tingkat: Bahaya bagi sepeda motor (sebelumnya Hati-hati)",
        "Nilai terakhir: 24,5 cm",
        "Waktu: 14-01-2026 09:30 WIB",
        "Lihat peta: https://jagajalan.sarolangun.go.id/peta?site=pasar-sarolangun",
    ]


def test_english_on_request() -> None:
    text = body(NOTICE, "en", "http://127.0.0.1:8000/")
    assert (
        "Critical: Water on the road at Pasar Sarolangun rose to Dangerous for motorcycles" in text
    )
    assert "Latest value: 24.5 cm" in text
    assert "Time: 14-01-2026 09:30 WIB" in text
    assert "http://127.0.0.1:8000/peta?site=pasar-sarolangun&lang=en" in text


@pytest.mark.parametrize(
    ("event", "expected_id"),
    [
        (
            Event(
                "ispu",
                "srl-pauh-01",
                "pm1",
                "raised",
                "sangat_tidak_sehat",
                "normal",
                True,
                "critical",
                T,
                "sangat_tidak_sehat",
            ),
            "Kritis: Kualitas udara di Pasar Sarolangun",
        ),
        (
            Event("los", "srl-pauh-01", "cnt1", "changed", "D", "C", False, "warning", T, "D"),
            "Peringatan: Kualitas udara di Pasar Sarolangun turun ke Tingkat pelayanan D",
        ),
        (
            Event(
                "ispu",
                "srl-pauh-01",
                "pm1",
                "resolved",
                "normal",
                "tidak_sehat",
                False,
                "warning",
                T,
                40.0,
            ),
            "Selesai: Kualitas udara di Pasar Sarolangun",
        ),
    ],
)
def test_every_kind_in_one_language_per_sentence(event: Event, expected_id: str) -> None:
    notice = Notice(event, {"id": "Kualitas udara", "en": "Air quality"}, PASAR, unit="µg/m³")
    assert subject(notice, "id") == expected_id
    for lang in ("id", "en"):
        for line in body(notice, lang, "http://x").splitlines():  # type: ignore[arg-type]
            assert not judge(line.replace("Pasar Sarolangun", ""), lang), line


def test_ispu_category_labels_come_from_analytics() -> None:
    event = Event("ispu", "g", "pm1", "raised", "tidak_sehat", "normal", True, "warning", T, 120.0)
    notice = Notice(event, {}, Place())
    assert "Tingkat: Tidak Sehat" in body(notice, "id", None)
    assert "Level: Unhealthy" in body(notice, "en", None)
    assert "peta" not in body(notice, "id", "http://x")  # no site: no link


def test_keys_are_stable_per_event_and_recipient() -> None:
    telegram = Recipient("telegram", "-100123", "id")
    email = Recipient("email", "ops@pu.sarolangun.go.id", "en")
    out = messages(NOTICE, [telegram, email], None)
    assert [m.key for m in out] == [key_of(FLOOD_UP, telegram), key_of(FLOOD_UP, email)]
    assert len({m.key for m in out}) == 2
    assert messages(NOTICE, [telegram], None)[0].key == out[0].key  # the same event again
    assert out[1].lang == "en" and "Water on the road" in out[1].subject
    assert out[0].data["time"] == "2026-01-14T02:30:00Z"
