"""The gateway's runtime: drivers' readings -> on-disk spool -> MQTT publisher, with health.

Layers inside the gateway: ``cli`` -> ``tools`` (doctor, scan) -> ``runtime`` -> ``config`` ->
``devices``. The runtime knows devices only through the ``DRIVERS`` table.
"""
