"""The service fixtures themselves start real processes that answer."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt

from testkit.services import Influx, Mosquitto, conf_listeners, free_port
from testkit.shipped_broker import write_shipped_conf


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
    subscribed = threading.Event()
    sub.on_message = lambda c, u, m: got.append(m.payload)
    sub.on_subscribe = lambda *_: subscribed.set()
    sub.connect("127.0.0.1", broker.port)
    sub.subscribe("probe/#", qos=1)
    sub.loop_start()
    try:
        assert subscribed.wait(5), "no SUBACK"
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


def test_every_listener_of_the_shipped_conf_is_waited_for(tmp_path: Path) -> None:
    """Mosquitto.start waits on each listener the conf opens: the shipped conf's TLS listener
    came up after the plain one, and a test that connected to it right away was refused."""
    port, tls_port = free_port(), free_port()
    conf = write_shipped_conf(tmp_path, port, None, tls_port=tls_port).read_text()
    assert conf_listeners(conf) == [("127.0.0.1", port), ("127.0.0.1", tls_port)]


def test_a_listener_without_an_address_is_waited_for_on_loopback() -> None:
    conf = "# listener 1\nlistener 1883\nlistener 8883 10.0.0.1\nlistener_x 5\nport 1\n"
    assert conf_listeners(conf) == [("127.0.0.1", 1883), ("10.0.0.1", 8883)]
