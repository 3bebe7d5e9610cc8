"""The trust & safety loop: review tasks for people, their decisions applied back.

`tasks` builds the review task of a verdict that needs people (and a deterministic audit
sample of the others); `decisions` parses reviewers' decisions; `state` materialises the
signals topic and keeps applied decisions (sqlite); `apply` decides what a decision changes
(latest by time wins, a replay applies once); `banks` writes and removes the vPDQ entries of
the confirmed and allow banks; `calibration` turns decisions into precision per threshold and
suggested thresholds. Only `state`, `banks` and the consumer loop (`loop`) do I/O.
"""
