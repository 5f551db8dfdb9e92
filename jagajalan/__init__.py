"""The JagaJalan shell: the ``jagajalan`` command, ``demo`` and the embedded broker.

No component imports this package; shared code lives in :mod:`kernel`.
"""

from kernel import __version__

__all__ = ["__version__"]
