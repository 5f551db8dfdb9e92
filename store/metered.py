"""A store seen through a meter: every call of a public method of the wrapped store (the read
and write interfaces, and whatever a backend adds) is timed and its failure classified, and
both are reported to a callback; the call itself is unchanged (same result, same exception).

The callback is the service's own (its metric names and registry): the API and the indicators
job each pass theirs. ``inner`` is the store itself, for checks of its kind
(``isinstance(metered.inner, SQLiteStore)``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from store.base import classify

#: (method name, seconds, failure kind or None): kinds are :class:`store.base.Failure` values.
Observe = Callable[[str, float, str | None], None]


class MeteredStore:
    def __init__(self, inner: Any, observe: Observe) -> None:
        self.inner = inner
        self._observe = observe

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name.startswith("_") or not callable(attr):
            return attr
        observe = self._observe

        def metered(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                result = attr(*args, **kwargs)
            except Exception as exc:
                observe(name, time.perf_counter() - start, classify(exc).value)
                raise
            observe(name, time.perf_counter() - start, None)
            return result

        metered.__name__ = name
        return metered


def unwrap(store: Any) -> Any:
    """The store itself, metered or not."""
    return store.inner if isinstance(store, MeteredStore) else store
