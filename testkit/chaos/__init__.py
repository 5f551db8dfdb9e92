"""The chaos harness (issue 15): a real gateway behind a network namespace the test can cut or
make bad, the real stack outside, and the counts every scenario ends with.

``rig.py`` builds it, ``tally.py`` counts, ``scenarios.py`` holds the faults in time,
``relay.py`` adds latency; ``python -m testkit.chaos`` (``make chaos``) runs the long
scenarios and writes their figures into docs/reliability.md. The short variants run in
``make test`` (tests/chaos/). The namespace helpers are testkit/netns.py.
"""
