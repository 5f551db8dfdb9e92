"""Weather stations speaking Vaisala WXT5xx-style ASCII sentences: the device type.

``protocol`` (sentence parser and CRC, pure), ``driver`` (typed config and driver thread),
``cases/`` (golden cases).
"""
