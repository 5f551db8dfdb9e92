"""The gateway's own GPS module (NMEA 0183 RMC/GGA): the device type.

``protocol`` (sentence parser, pure), ``driver`` (typed config and driver thread),
``cases/`` (golden cases).
"""
