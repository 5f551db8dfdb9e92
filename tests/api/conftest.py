"""The API's tests that read a store run on each backend: SQLite and a real InfluxDB."""

from testkit.stores import store  # noqa: F401  (the fixture)
