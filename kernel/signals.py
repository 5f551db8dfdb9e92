"""The one way service code handles SIGINT and SIGTERM.

Every long-running command (gateway, ingest, API, simulators, demo) stops on SIGTERM (systemd,
docker) and on SIGINT (Ctrl-C). Each installs its handlers here, in a ``with`` block (or with
:func:`install` and the restore function it returns, called in a ``finally``), and puts back
whatever was installed before when it ends. That matters when a command
runs in-process (tests call the commands' functions): a handler left behind would turn the
next Ctrl-C into a call on an object that no longer runs, and the test runner would never see
its KeyboardInterrupt.

Python delivers signals to the main thread only and refuses ``signal.signal`` elsewhere, so
off the main thread these helpers install nothing and the caller stops by other means (its
event, its own stop method). A test (tests/kernel/test_signals.py) checks that no other
module calls ``signal.signal``.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from types import FrameType

STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)

Handler = Callable[[signal.Signals], None]
Restore = Callable[[], None]


def install(handler: Handler, signals: Iterable[signal.Signals] = STOP_SIGNALS) -> Restore:
    """Call ``handler(sig)`` for each of *signals* from now on; returns the function that puts
    the previous handlers back (call it in a ``finally``; prefer :func:`handling`). Off the
    main thread, where Python allows no signal handlers, installs nothing."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def on_signal(signum: int, frame: FrameType | None) -> None:
        handler(signal.Signals(signum))

    previous: dict[signal.Signals, object] = {}

    def restore() -> None:
        while previous:
            sig, old = previous.popitem()
            # None: the old handler was not installed from Python; the default is the closest.
            signal.signal(sig, signal.SIG_DFL if old is None else old)

    try:
        for sig in signals:
            previous[sig] = signal.signal(sig, on_signal)
    except BaseException:
        restore()
        raise
    return restore


def install_stop(
    event: threading.Event,
    signals: Iterable[signal.Signals] = STOP_SIGNALS,
    on_signal: Handler | None = None,
) -> Restore:
    """*signals* set *event* (after calling *on_signal*, to log it, say) from now on; returns
    the function that puts the previous handlers back (prefer :func:`stop_event`)."""

    def handler(sig: signal.Signals) -> None:
        if on_signal is not None:
            on_signal(sig)
        event.set()

    return install(handler, signals)


@contextlib.contextmanager
def handling(handler: Handler, signals: Iterable[signal.Signals] = STOP_SIGNALS) -> Iterator[None]:
    """Call ``handler(sig)`` for each of *signals* while inside; the previous handlers come
    back on exit, also when the block raises."""
    restore = install(handler, signals)
    try:
        yield
    finally:
        restore()


@contextlib.contextmanager
def stop_event(
    event: threading.Event | None = None,
    signals: Iterable[signal.Signals] = STOP_SIGNALS,
    on_signal: Handler | None = None,
) -> Iterator[threading.Event]:
    """An event that *signals* set while inside (a new one unless *event* is given), with
    *on_signal* called first (to log it, say); previous handlers come back on exit."""
    stop = event if event is not None else threading.Event()
    restore = install_stop(stop, signals, on_signal)
    try:
        yield stop
    finally:
        restore()


@contextlib.contextmanager
def ignoring(signals: Iterable[signal.Signals]) -> Iterator[None]:
    """Signals that do nothing while inside (for a library that handles them itself and then
    raises them again, like uvicorn with SIGTERM); the previous handlers come back on exit."""
    with handling(lambda sig: None, signals):
        yield
