"""The scenario engine: seeded, deterministic Sarolangun days on an accelerated clock.

``config`` (the file format), ``engine`` (the site models), ``physics``/``traffic`` (pure
signal models), ``levels`` (named levels and crossings), ``run`` (the clock and ground truth).
The shipped scenario files are in ``simulators/scenarios/``.
"""
