"""A store seen through a meter: every call of a public method of the wrapped store (the read
and write interfaces, and whatever a backend adds) is timed and its failure classified, and
both are reported to a callback; the call itself is unchanged (same result, same exception).

The callback is the service's own (its metric names and registry): the API and the indicators
job each pass theirs. ``inner`` is the store itself (:func:`unwrap`). Checks of the store's
kind see through the meter, as they do through a ``unittest.mock`` spec:
``isinstance(metered, SQLiteStore)`` is true when the wrapped store is one, so code that asks
which backend it holds works unchanged.
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

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # isinstance() looks here when type() does not match
        return type(self.inner)

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
    return store.inner if type(store) is MeteredStore else store
