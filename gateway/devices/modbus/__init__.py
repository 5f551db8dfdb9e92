"""Modbus RTU sensors on RS-485: the device type, in one folder.

``frames`` (RTU frames, pure), ``schema``/``profile``/``decoder``/``expr`` (register-map
profiles compiled into pure decoders), ``bus`` (one owner per serial bus), ``bus_config``
(which devices may share a port), ``identify`` (recognising a model, for ``gateway scan``),
``driver`` (the typed config and the driver thread), ``profiles/`` (the sensor models: data),
``cases/`` (golden cases walked by tests/gateway/devices/modbus/test_cases.py).
"""
