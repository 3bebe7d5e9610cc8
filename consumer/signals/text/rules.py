"""On-screen text: tags for search (each distinct string, when and how often it shows) and the
policy's text rules (regular expressions, word lists). Pure: word lists are read by the caller.

A rule matches a line the reader is at least `min_score` sure of; a verdict reason names the
rule and the time, never the text itself (it may be personal data).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from consumer.data_files import DataFileError, read_bounded
from consumer.errors import ConfigError
from consumer.inference.triton_client import TextRead
from consumer.policy.decide import TEXT_RULE, Reason
from consumer.signals.text.settings import TextRule


@dataclass(frozen=True)
class CompiledRule:
    rule: TextRule
    regex: re.Pattern[str]


@dataclass(frozen=True)
class TextMatch:
    """The first time a rule matched."""

    rule: str
    action: str
    at_s: float


def word_list(text: str) -> list[str]:
    """One word or phrase per line; blank lines and `#` comments skipped."""
    return [w for w in (line.strip() for line in text.splitlines()) if w and not w.startswith("#")]


def compile_rules(rules: Sequence[TextRule],
                  read_text: Callable[[str], str]) -> list[CompiledRule]:
    """Regexes as given; word lists as one whole-word alternation (case-insensitive)."""
    compiled = []
    for rule in rules:
        if rule.pattern is not None:
            regex = re.compile(rule.pattern, re.IGNORECASE)
        else:
            assert rule.words is not None
            words = sorted(word_list(read_text(rule.words)), key=len, reverse=True)
            body = "|".join(re.escape(w) for w in words) or r"(?!)"
            regex = re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)
        compiled.append(CompiledRule(rule, regex))
    return compiled


def match_texts(rules: Sequence[CompiledRule], texts: Mapping[int, Sequence[TextRead]],
                pts_s: Sequence[float]) -> list[TextMatch]:
    """Each rule's first match in time, over the lines read on every analysed frame."""
    matches = []
    for compiled in rules:
        for index in sorted(texts):
            if any(line.score >= compiled.rule.min_score and compiled.regex.search(line.text)
                   for line in texts[index]):
                matches.append(TextMatch(compiled.rule.name, compiled.rule.action,
                                         float(pts_s[index])))
                break
    return matches


def text_reasons(matches: Sequence[TextMatch]) -> list[Reason]:
    """A rule's action; the reason names the rule and the time, never the text."""
    return [Reason(TEXT_RULE, None, None, m.at_s, m.action, rule=m.rule) for m in matches]


def text_tags(texts: Mapping[int, Sequence[TextRead]],
              pts_s: Sequence[float]) -> list[dict[str, Any]]:
    """Each distinct string: best score, first and last time, share of frames showing it."""
    seen: dict[str, dict[str, Any]] = {}
    for index in sorted(texts):
        at = round(float(pts_s[index]), 3)
        for line in texts[index]:
            text = " ".join(line.text.split())
            if not text:
                continue
            tag = seen.setdefault(text, {"text": text, "score": 0.0, "first_s": at,
                                         "last_s": at, "frames": set()})
            tag["score"] = max(tag["score"], round(line.score, 4))
            tag["last_s"] = at
            tag["frames"].add(index)
    analysed = max(len(pts_s), 1)
    return [{**{k: v for k, v in tag.items() if k != "frames"},
             "coverage": round(len(tag["frames"]) / analysed, 4)}
            for tag in sorted(seen.values(), key=lambda t: (t["first_s"], t["text"]))]


def read_text(path: str, limit_bytes: int = TextRule.model_fields["max_bytes"].default) -> str:
    """A bounded text file (a UTF-8 BOM is dropped)."""
    data, _ = read_bounded(path, limit_bytes)
    return data.tobytes().decode("utf-8-sig")


def load_text_rules(rules: Sequence[TextRule]) -> list[CompiledRule]:
    """Text rules compiled, word lists read now: one that cannot be read, or is empty unless
    allowed, stops the start."""
    by_path = {rule.words: rule for rule in rules if rule.words is not None}

    def read_words(path: str) -> str:
        rule = by_path[path]
        text = read_text(path, rule.max_bytes)
        if not word_list(text) and not rule.allow_empty:
            raise DataFileError(f"{path} holds no word (set allow_empty=true if it is meant "
                                "to be empty)", "empty")
        return text

    try:
        return compile_rules(rules, read_words)
    except (OSError, UnicodeDecodeError, DataFileError) as exc:
        raise ConfigError(f"signals.text.rules: cannot read a word list: {exc}") from exc
