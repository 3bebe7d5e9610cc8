"""On-screen text: what a served text reader (`ocr`) read on every analysed frame, tagged
(distinct strings, their times and share of frames) and matched against text rules (patterns
or word lists); a rule that matches adds its action, naming the rule, never the text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from consumer.errors import ConfigError
from consumer.models.specs import get_spec
from consumer.signals.base import Evidence, Finding, Opening, Signal, SignalSettings
from consumer.signals.text.rules import (
    CompiledRule,
    load_text_rules,
    match_texts,
    text_reasons,
    text_tags,
)
from consumer.signals.text.settings import TextSettings


class OnScreenText(Signal):
    name: ClassVar[str] = "text"
    settings_model: ClassVar[type[SignalSettings]] = TextSettings
    section: TextSettings
    rules: Sequence[CompiledRule] = ()  # compiled at `open`

    def check(self) -> None:
        if self.section.rules and not any(
                get_spec(m).text_output is not None for m in self.settings.pipeline.models):
            raise ConfigError("signals.text.rules needs a text reader in pipeline.models "
                              "(e.g. \"ocr\")")

    @property
    def active(self) -> bool:
        return bool(self.section.rules)

    def open(self, opening: Opening) -> None:
        """Rules compiled, word lists read now (one that cannot be read stops the start)."""
        self.rules = load_text_rules(self.section.rules)
        if opening.metrics is not None:
            opening.metrics.text_rules_loaded([compiled.rule.name for compiled in self.rules])

    def open_offline(self) -> None:
        self.rules = load_text_rules(self.section.rules)

    def judge(self, evidence: Evidence, matched: Any) -> Finding:
        pts = evidence.keyframes.pts_s
        found = match_texts(self.rules, evidence.texts, pts) \
            if evidence.outputs_ok else []
        return Finding(reasons=text_reasons(found),
                       tags={"text": text_tags(evidence.texts, pts)},
                       matched=[m.rule for m in found])
