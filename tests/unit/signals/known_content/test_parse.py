"""Plain hash lists (`hash` or `hash,label` per line): the vectorised parser."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumer.signals.known_content.parse import HashListError, parse_hash_list

A = "f" * 64
B = "0" * 63 + "1"


def test_plain_and_csv_lists_with_comments_and_a_header() -> None:
    parsed = parse_hash_list("l", f"hash,label\n# exported today\n\n{A},case 1\n{B.upper()}\n")
    assert parsed.hashes.shape == (2, 32)
    assert parsed.hashes[0].tobytes().hex() == A and parsed.hashes[1].tobytes().hex() == B
    assert list(parsed.labels) == ["case 1", None]
    assert parse_hash_list("empty", "").hashes.shape == (0, 32)


@pytest.mark.parametrize("bad", ["abc", "g" * 64, A + "0", f"{A}\nnot a hash"])
def test_a_malformed_line_is_refused_with_its_number(bad: str) -> None:
    with pytest.raises(HashListError, match="line"):
        parse_hash_list("l", bad)


def _reference_parse(text: str) -> tuple[list[str], list[str | None]]:
    """The line-by-line parser the vectorised one replaced (its semantics are the contract)."""
    rows: list[str] = []
    labels: list[str | None] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        first, _, rest = line.partition(",")
        first = first.strip()
        if len(first) != 64 or any(c not in "0123456789abcdefABCDEF" for c in first):
            if not rows and first.lower() in ("hash", "pdq", "signal_value"):
                continue
            raise ValueError(raw)
        rows.append(first.lower())
        labels.append(rest.strip() or None)
    return rows, labels


_LINES = st.one_of(
    st.builds(lambda h, u: h.upper() if u else h, st.text("0123456789abcdef", min_size=64,
                                                         max_size=64), st.booleans()),
    st.builds(lambda h, label: f"{h},{label}", st.text("0123456789abcdef", min_size=64,
                                                        max_size=64),
              st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")),
                      max_size=20)),
    st.builds(lambda h, pad: f"{pad}{h} ,x{pad}", st.just(A), st.sampled_from([" ", "\t"])),
    st.sampled_from(["", "# a comment", "   ", "hash,label"]),
)


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(_LINES, max_size=40), crlf=st.booleans(), bom=st.booleans())
def test_the_vectorised_parser_reads_what_the_line_parser_read(lines: list[str], crlf: bool,
                                                              bom: bool) -> None:
    text = "".join(line + ("\r\n" if crlf else "\n") for line in lines)
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode()
    try:
        rows, labels = _reference_parse(text)
    except ValueError:
        with pytest.raises(HashListError, match="line"):
            parse_hash_list("l", data)
        return
    parsed = parse_hash_list("l", data)
    assert [bytes(h).hex() for h in parsed.hashes] == rows
    assert list(parsed.labels) == labels


def test_chunks_of_a_long_list_join_up_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    from consumer.signals.known_content import parse as hash_list_parse

    monkeypatch.setattr(hash_list_parse, "CHUNK_BYTES", 100)  # many chunks, lines across them
    rng = np.random.default_rng(5)
    hashes = [bytes(r).hex() for r in rng.integers(0, 256, (50, 32), dtype=np.uint8)]
    text = "hash,label\n" + "".join(f"{h},{'x' * (i % 7)}\n" if i % 5 else f"# c{i}\n{h}\n"
                                    for i, h in enumerate(hashes))
    parsed = parse_hash_list("l", text)
    assert [bytes(h).hex() for h in parsed.hashes] == hashes
    assert list(parsed.labels) == [None if i % 5 == 0 or i % 7 == 0 else "x" * (i % 7)
                                   for i in range(50)]
    with pytest.raises(HashListError, match="line 62: not a PDQ hash"):
        parse_hash_list("l", text + "zz\n")


def test_a_long_label_is_cut_with_an_ellipsis_and_counted() -> None:
    accented = "\u00e9" * 200
    parsed = parse_hash_list("l", f"{A},{'a' * 300}\n{B},{accented}\n{B},ok\n")
    assert parsed.labels[0] == "a" * 255 + "\u2026" and len(parsed.labels[0] or "") == 256
    assert parsed.labels[1] == "\u00e9" * 200, "256 characters, whatever their bytes"
    assert parsed.labels[2] == "ok" and parsed.labels.cut == 1


@pytest.mark.parametrize("bad", [f"{A}", f"{A}\n{B[:40]}", f"{A}\n{B[:40]}\n"])
def test_a_list_caught_mid_write_is_invalid(bad: str) -> None:
    with pytest.raises(HashListError, match=r"no newline|line 2"):
        parse_hash_list("l", bad)

