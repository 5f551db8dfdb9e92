"""Traffic counters streaming per-vehicle ASCII records: the device type, in one folder.

``protocol`` (record parser, pure), ``aggregate`` and ``summary`` (edge aggregation into
interval summaries, pure), ``driver`` (typed config and driver thread), ``cases/`` (golden cases).
"""
