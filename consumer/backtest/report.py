"""The backtest's diff: old -> new verdict counts, the reasons that changed, sample videos per
cell, records skipped and why, and precision/recall of old and draft against reviewers'
decisions. Pure; one entry per video (the latest record read wins, as on the compacted topic).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from consumer.policy.decide import BLOCK, REVIEW, Decision, Reason

SAMPLES_PER_CELL = 5
FLAGGED = (REVIEW, BLOCK)


def reason_key(category: Any, action: Any, where: Any = None) -> str:
    """`nsfw:review`, `known_content_match[bank]:block`: what a policy owner reads."""
    return f"{category}[{where}]:{action}" if where else f"{category}:{action}"


def _recorded_keys(reasons: Iterable[Any]) -> frozenset[str]:
    return frozenset(reason_key(r.get("category"), r.get("action"),
                                r.get("hash_list") or r.get("rule"))
                     for r in reasons if isinstance(r, dict))


def _decided_keys(reasons: Iterable[Reason]) -> frozenset[str]:
    return frozenset(reason_key(r.category, r.action, r.hash_list or r.rule) for r in reasons)


@dataclass(frozen=True)
class Outcome:
    old: str
    new: str
    old_reasons: frozenset[str]
    new_reasons: frozenset[str]


@dataclass
class Report:
    samples: int = SAMPLES_PER_CELL
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)
    records: int = 0

    def add(self, video_id: str, record: Mapping[str, Any], decision: Decision) -> None:
        self.records += 1
        self.outcomes[video_id] = Outcome(str(record.get("verdict")), decision.verdict,
                                          _recorded_keys(record.get("reasons") or ()),
                                          _decided_keys(decision.reasons))

    def skip(self, reason: str) -> None:
        self.records += 1
        self.skipped[reason] += 1

    def changed(self) -> dict[str, Outcome]:
        """The videos whose verdict changes."""
        return {v: o for v, o in self.outcomes.items() if o.old != o.new}

    def summary(self, decisions: Mapping[str, str] | None = None) -> dict[str, Any]:
        cells: Counter[tuple[str, str]] = Counter()
        sampled: dict[tuple[str, str], list[str]] = defaultdict(list)
        added: Counter[str] = Counter()
        removed: Counter[str] = Counter()
        for video, outcome in sorted(self.outcomes.items()):
            cell = (outcome.old, outcome.new)
            cells[cell] += 1
            if len(sampled[cell]) < self.samples:
                sampled[cell].append(video)
            added.update(outcome.new_reasons - outcome.old_reasons)
            removed.update(outcome.old_reasons - outcome.new_reasons)
        out: dict[str, Any] = {
            "records": self.records, "videos": len(self.outcomes),
            "skipped": dict(self.skipped),
            "verdicts": [{"old": old, "new": new, "videos": count,
                          "samples": sampled[(old, new)]}
                         for (old, new), count in sorted(cells.items())],
            "changed": sorted(self.changed()),
            "reasons_added": dict(added.most_common()),
            "reasons_removed": dict(removed.most_common()),
        }
        if decisions:
            out["against_decisions"] = self.against(decisions)
        return out

    def against(self, decisions: Mapping[str, str]) -> dict[str, Any]:
        """Precision and recall of old and draft verdicts against reviewers' latest decision
        per video (`violating` is the positive), for `review|block` and for `block` alone."""
        judged = {v: o for v, o in self.outcomes.items() if v in decisions}
        out: dict[str, Any] = {"videos": len(judged)}
        for name, flagged in (("flagged", FLAGGED), ("block", (BLOCK,))):
            for side in ("old", "new"):
                tp = fp = fn = 0
                for video, outcome in judged.items():
                    hit = getattr(outcome, side) in flagged
                    positive = decisions[video] == "violating"
                    tp += hit and positive
                    fp += hit and not positive
                    fn += positive and not hit
                out[f"{name}_{side}"] = {
                    "precision": round(tp / (tp + fp), 4) if tp + fp else None,
                    "recall": round(tp / (tp + fn), 4) if tp + fn else None,
                    "tp": tp, "fp": fp, "fn": fn}
        return out


def render(summary: Mapping[str, Any]) -> str:
    """The summary as text a policy owner reads."""
    lines = [f"records read: {summary['records']}, videos: {summary['videos']}, "
             f"verdicts changed: {len(summary['changed'])}"]
    if summary["skipped"]:
        lines.append("skipped: " + ", ".join(f"{k} {v}" for k, v in
                                             sorted(summary["skipped"].items())))
    lines.append(f"{'old':>14} -> {'new':<14} {'videos':>8}  samples")
    for cell in summary["verdicts"]:
        mark = "" if cell["old"] == cell["new"] else " *"
        lines.append(f"{cell['old']:>14} -> {cell['new']:<14} {cell['videos']:>8}  "
                     f"{', '.join(cell['samples'])}{mark}")
    for title, key in (("reasons added", "reasons_added"), ("reasons removed",
                                                            "reasons_removed")):
        if summary[key]:
            lines.append(f"{title}: " + ", ".join(f"{k} ({v})" for k, v in
                                                  summary[key].items()))
    against = summary.get("against_decisions")
    if against:
        lines.append(f"against reviewers' decisions ({against['videos']} videos):")
        for name in ("flagged", "block"):
            for side in ("old", "new"):
                row = against[f"{name}_{side}"]
                lines.append(f"  {name:>7} {side:>3}: precision {row['precision']}, recall "
                             f"{row['recall']} (tp {row['tp']}, fp {row['fp']}, "
                             f"fn {row['fn']})")
    return "\n".join(lines)
