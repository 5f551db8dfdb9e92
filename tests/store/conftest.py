"""The store of each backend for the contract tests: SQLite (embedded) and a real InfluxDB."""

from testkit.stores import store  # noqa: F401  (the fixture)
