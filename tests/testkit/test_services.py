"""The service fixtures themselves start real processes that answer."""

from __future__ import annotations

import httpx
import paho.mqtt.client as mqtt

from testkit.services import Influx, Mosquitto


def test_influxd_accepts_and_returns_a_point(influx: Influx, influx_db: str) -> None:
    influx.query(f'CREATE DATABASE "{influx_db}"')
    r = httpx.post(
        f"{influx.url}/write",
        params={"db": influx_db, "precision": "ms"},
        content=b"probe,gateway=g1 value=1.5 1764489600000",
    )
    assert r.status_code == 204, r.text
    res = influx.query("SELECT value FROM probe", db=influx_db)
    assert res["results"][0]["series"][0]["values"] == [[1764489600000, 1.5]]


def test_mosquitto_round_trip(broker: Mosquitto) -> None:
    got: list[bytes] = []
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    sub.on_message = lambda c, u, m: got.append(m.payload)
    sub.connect("127.0.0.1", broker.port)
    sub.subscribe("probe/#", qos=1)
    sub.loop_start()
    try:
        import time

        time.sleep(0.3)
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        pub.publish("probe/x", b"hello", qos=1).wait_for_publish(5)
        pub.loop_stop()
        deadline = time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        sub.loop_stop()
    assert got == [b"hello"]
