"""Staged rollouts of a gateway release: group by group, stopping by itself at a failure
threshold (:mod:`.plan`, pure), with desired-version commands on each gateway's retained
``cmd`` topic (:mod:`.command`, pure; docs/protocol.md section 1.1)."""
