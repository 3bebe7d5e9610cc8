"""Text rules and text tags: patterns and word lists over the lines read per frame."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from consumer.errors import ConfigError
from consumer.inference.triton_client import TextRead
from consumer.policy.decide import ALLOW, BLOCK, REVIEW, Decision, Reason, escalate
from consumer.signals.text.rules import (
    TextMatch,
    compile_rules,
    match_texts,
    text_reasons,
    text_tags,
)
from consumer.signals.text.settings import TextRule
from tests.unit.blocking import bounded_in_time

BOX = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))


def _line(text: str, score: float = 0.99) -> TextRead:
    return TextRead(text, score, BOX)


def _rules(*rules: TextRule, files: dict[str, str] | None = None) -> list:  # type: ignore[type-arg]
    return compile_rules(rules, lambda path: (files or {})[path])


def test_patterns_and_word_lists_match_whole_words_case_insensitively() -> None:
    rules = _rules(TextRule(name="urls", pattern=r"www\.\S+"),
                   TextRule(name="words", words="w.txt", action="block"),
                   files={"w.txt": "# list\nbuy now\n\nCASINO\n"})
    texts = {0: [_line("Welcome")], 1: [_line("visit WWW.example.com")],
             2: [_line("Casinos near you")], 3: [_line("best casino, buy  now")]}
    assert match_texts(rules, texts, [0.0, 1.0, 2.0, 3.0]) == [
        TextMatch("urls", "review", 1.0), TextMatch("words", "block", 3.0)]


def test_lines_read_with_little_confidence_do_not_match() -> None:
    rules = _rules(TextRule(name="r", pattern="casino", min_score=0.8))
    assert match_texts(rules, {0: [_line("casino", 0.6)]}, [0.0]) == []
    assert match_texts(rules, {0: [_line("casino", 0.8)]}, [5.0]) == [TextMatch("r", "review",
                                                                                5.0)]


def test_an_empty_word_list_matches_nothing() -> None:
    rules = _rules(TextRule(name="w", words="w.txt"), files={"w.txt": "# nothing yet\n"})
    assert match_texts(rules, {0: [_line("anything at all")]}, [0.0]) == []


def test_a_rule_needs_exactly_one_source_and_a_valid_pattern() -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        TextRule(name="x")
    with pytest.raises(ValidationError, match="exactly one"):
        TextRule(name="x", pattern="a", words="w.txt")
    with pytest.raises(ValidationError, match="bad pattern"):
        TextRule(name="x", pattern="(unclosed")


def test_tags_list_each_distinct_string_with_best_score_times_and_coverage() -> None:
    texts = {0: [_line("SALE  today", 0.9)], 1: [_line("SALE today", 0.95), _line("  ")],
             3: [_line("Other", 0.7)]}
    assert text_tags(texts, [0.0, 2.0, 4.0, 6.0]) == [
        {"text": "SALE today", "score": 0.95, "first_s": 0.0, "last_s": 2.0, "coverage": 0.5},
        {"text": "Other", "score": 0.7, "first_s": 6.0, "last_s": 6.0, "coverage": 0.25}]
    assert text_tags({}, [0.0]) == []


def test_a_match_names_the_rule_and_time_and_escalates_the_verdict() -> None:
    merged = escalate(Decision(ALLOW), text_reasons([TextMatch("phones", REVIEW, 4.0)]))
    assert merged.verdict == REVIEW
    assert merged.reasons == [Reason("text_rule", None, None, 4.0, REVIEW, rule="phones")]
    block = escalate(Decision(REVIEW, [Reason("nsfw", 0.6, 0.5, 1.0, REVIEW)]),
                     text_reasons([TextMatch("words", BLOCK, 2.0)]))
    assert block.verdict == BLOCK and [r.category for r in block.reasons] == ["text_rule",
                                                                               "nsfw"]


def test_a_word_list_that_cannot_be_read_stops_the_start(tmp_path: Path) -> None:
    from consumer.signals.text.rules import load_text_rules
    from consumer.signals.text.settings import TextRule

    words = tmp_path / "words.txt"
    words.write_text("casino\n")
    (compiled,) = load_text_rules([TextRule(name="w", words=str(words))])
    assert compiled.regex.search("Casino night")
    with pytest.raises(ConfigError, match="cannot read a word list"):
        load_text_rules([TextRule(name="w", words=str(tmp_path / "gone.txt"))])


# --- fail closed and bounded (issue 24) ---------------------------------------------------

def test_word_lists_are_bounded_accept_a_bom_and_may_not_be_empty(tmp_path: Path) -> None:
    from consumer.signals.text.rules import load_text_rules
    from consumer.signals.text.settings import TextRule

    words = tmp_path / "words.txt"
    words.write_bytes(b"\xef\xbb\xbfcasino\r\n")
    (compiled,) = load_text_rules([TextRule(name="w", words=str(words))])
    assert compiled.regex.search("Casino night") and not compiled.regex.search("\ufeffx")
    words.write_text("# none yet\n")
    with pytest.raises(ConfigError, match="holds no word"):
        load_text_rules([TextRule(name="w", words=str(words))])
    assert load_text_rules([TextRule(name="w", words=str(words), allow_empty=True)])
    with pytest.raises(ConfigError, match="larger than its limit"):
        load_text_rules([TextRule(name="w", words=str(words), max_bytes=4)])
    fifo = tmp_path / "words.fifo"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        bounded_in_time(lambda: load_text_rules([TextRule(name="w", words=str(fifo))]))
