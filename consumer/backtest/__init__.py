"""Backtests: re-deciding recorded evidence (the signals topic) under a draft policy.

`restore` reads a signals record back into the `Evidence` and matches `assess` takes,
`redecide` runs the same `assess` as `vmc run` under the draft's settings (no decode, no
Triton, no bank loaded), `report` compares old and new verdicts (and both against reviewers'
decisions), `reader` reads topic ranges. `vmc backtest` (consumer/cli/backtest.py) wires them.
"""
