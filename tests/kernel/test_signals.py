"""kernel/signals.py: service code's SIGINT/SIGTERM handlers come and go with the service, so a
command run in-process (as the tests do) leaves Ctrl-C to the test runner afterwards."""

from __future__ import annotations

import ast
import signal
import threading
from pathlib import Path

import pytest

from gateway.runtime.service import GatewayService
from kernel.signals import handling, ignoring, install_stop, stop_event
from testkit import REPO
from testkit.gateway import emit_device, make_config, register_emit_driver


def _marker(signum: int, frame: object) -> None:  # a handler someone installed before
    raise AssertionError("the previous handler must not run inside the block")


@pytest.fixture
def previous_handlers():
    """A known handler on SIGINT and SIGTERM for the test; the originals back afterwards."""
    saved = {sig: signal.signal(sig, _marker) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.mark.usefixtures("previous_handlers")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_stop_event_sets_the_event_and_restores_the_previous_handlers(
    sig: signal.Signals,
) -> None:
    seen: list[signal.Signals] = []
    with stop_event(on_signal=seen.append) as stop:
        assert signal.getsignal(sig) is not _marker
        signal.raise_signal(sig)
        assert stop.is_set()
    assert seen == [sig]
    assert signal.getsignal(signal.SIGINT) is _marker
    assert signal.getsignal(signal.SIGTERM) is _marker


@pytest.mark.usefixtures("previous_handlers")
def test_handlers_are_restored_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError, match="boom"), handling(lambda sig: None):
        raise RuntimeError("boom")
    assert signal.getsignal(signal.SIGINT) is _marker
    assert signal.getsignal(signal.SIGTERM) is _marker


@pytest.mark.usefixtures("previous_handlers")
def test_install_stop_returns_the_restore_function() -> None:
    stop = threading.Event()
    restore = install_stop(stop, [signal.SIGTERM])
    assert signal.getsignal(signal.SIGINT) is _marker  # only the signals asked for
    signal.raise_signal(signal.SIGTERM)
    assert stop.is_set()
    restore()
    assert signal.getsignal(signal.SIGTERM) is _marker


def test_ctrl_c_is_a_keyboard_interrupt_again_after_the_block() -> None:
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with ignoring([signal.SIGINT]):
        signal.raise_signal(signal.SIGINT)  # ignored: nothing raised
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)


@pytest.mark.usefixtures("previous_handlers")
def test_off_the_main_thread_nothing_is_installed() -> None:
    result: dict[str, object] = {}

    def body() -> None:
        with stop_event() as stop:
            result["event"] = stop
            result["handler"] = signal.getsignal(signal.SIGINT)

    thread = threading.Thread(target=body)
    thread.start()
    thread.join(10)
    assert isinstance(result["event"], threading.Event)
    assert result["handler"] is _marker


def test_a_gateway_run_in_process_gives_ctrl_c_back(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """What made Ctrl-C useless in `make test`: a service run in the test process left its
    handler behind, so the next Ctrl-C only set the event of a service long gone."""
    register_emit_driver(monkeypatch)
    config = make_config(tmp_path, "gw-signals", "mqtt://127.0.0.1:9", [emit_device("c1", 3)])
    service = GatewayService(config)
    service.request_shutdown()  # run() starts, sees the request, stops
    assert service.run() == 0
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)


def _calls_signal_signal(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            value = node.func.value
            if node.func.attr == "signal" and isinstance(value, ast.Name) and value.id == "signal":
                return True
        if (
            isinstance(node, ast.ImportFrom)
            and node.module == "signal"
            and any(alias.name == "signal" for alias in node.names)
        ):
            return True
    return False


def test_only_kernel_signals_installs_handlers() -> None:
    packages = ["jagajalan", "kernel", "gateway", "ingest", "api", "simulators", "store"]
    packages += ["alerts", "analytics", "indicators", "telemetry", "dashboards", "firmware_tools"]
    offenders = [
        str(path.relative_to(REPO))
        for package in packages
        for path in sorted((REPO / package).rglob("*.py"))
        if _calls_signal_signal(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert offenders == ["kernel/signals.py"]
