"""A restored record re-decided under a draft's settings by the same `assess` as `vmc run`.

The signals are built from the draft (`instances`), made usable without their reference data
(`open_offline`), and each signal restores what it matched under the draft (`restore`): a
draft's thresholds, bank actions and shares, text rules and catalogue actions all apply; only
matches the live banks and catalogues did not make cannot be found (no pixels, no soundtrack).
"""

from __future__ import annotations

from typing import Any

from consumer.backtest.restore import BadRecord, Restored
from consumer.policy.decide import Decision
from consumer.settings import Settings
from consumer.signals import instances
from consumer.signals.assess import assess


class Redecider:
    def __init__(self, settings: Settings) -> None:
        self.policy = settings.policy
        self.signals = instances(settings)
        for signal in self.signals:
            signal.open_offline()

    def __call__(self, restored: Restored) -> Decision:
        matched: dict[str, Any] = {}
        for signal in self.signals:
            try:
                matched[signal.name] = signal.restore(restored.matched.get(signal.name))
            except ValueError as exc:
                raise BadRecord("malformed", str(exc)) from None
        return assess(restored.evidence, self.signals, self.policy, matched=matched,
                      inference_error=restored.inference_error,
                      given_up=restored.given_up).decision
