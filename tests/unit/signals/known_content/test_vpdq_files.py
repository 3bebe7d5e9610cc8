"""vPDQ files as the reference tool and python-threatexchange write them, told apart from plain
lists by their content; bad lines counted, never a crash."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumer.signals.known_content.parse import HashListError, parse_hash_list
from consumer.signals.known_content.vpdq_files import parse_vpdq, parse_vpdq_json, sniff

A, B, C = "a" * 64, "0123456789abcdef" * 4, "f" * 63 + "e"


def _rows(hashes: np.ndarray) -> list[str]:
    return [bytes(row).hex() for row in hashes]


def test_a_reference_tool_file_gives_each_frame_with_its_quality_and_time() -> None:
    # As vpdq's cpp `outputVPDQFeatureToFile` writes it: frame,quality,hash,time (3 decimals).
    text = f"0,100,{A},0.000\n1,87,{B.upper()},1.000\n2,12,{C},2.500\n"
    video = parse_vpdq("v", text.encode())
    assert _rows(video.hashes) == [A, B, C]
    assert video.qualities.tolist() == [100, 87, 12]
    assert video.times_s.tolist() == [0.0, 1.0, 2.5] and video.malformed == 0


def test_a_header_blank_lines_comments_and_crlf_are_not_malformed() -> None:
    text = f"frame,quality,pdq_hex,timestamp\r\n\n# exported\n0, 100 ,{A},0.000\r\n"
    video = parse_vpdq("v", text.encode())
    assert _rows(video.hashes) == [A] and video.malformed == 0


@pytest.mark.parametrize("bad", [f"0,100,{A[:-1]},0.0".encode(), f"0,101,{A},0.0".encode(),
                                 f"0,100,{A},-1.0".encode(), f"0,100,{A}".encode(),
                                 f"x,100,{A},0.0".encode(), f"0,100,{A},0.0,more".encode(),
                                 f"0,100,{A},nan".encode(), b"\xff\xfe"])
def test_a_bad_line_is_skipped_and_counted(bad: bytes) -> None:
    text = f"0,100,{A},0.000\n".encode() + bad + f"\n2,90,{B},2.000\n".encode()
    video = parse_vpdq("v", text)
    assert _rows(video.hashes) == [A, B] and video.malformed == 1
    assert "'v', line 2: not `frame,quality" in video.first_malformed or (
        "a quality above 100" in video.first_malformed)


def test_a_reference_file_caught_mid_write_is_refused_whole() -> None:
    with pytest.raises(HashListError, match="last line has no newline"):
        parse_vpdq("v", f"0,100,{A},0.000\n1,100,{B[:20]}".encode())


def test_python_threatexchange_json_with_its_three_significant_digit_times() -> None:
    # VpdqCompactFeature.__str__: f"{hex},{quality},{timestamp:.3}", so 123.0 -> "1.23e+02".
    items = [f"{A},100,0.0", f"{B},55,12.5", f"{C},80,{123.0:.3}"]
    video = parse_vpdq_json("v", json.dumps(items, indent=2).encode())
    assert _rows(video.hashes) == [A, B, C] and video.qualities.tolist() == [100, 55, 80]
    assert video.times_s.tolist() == [0.0, 12.5, 123.0]


def test_the_older_json_object_of_frames_is_read_too() -> None:
    old = {"0": {"quality": 100, "hash": A, "timestamp": 0.0},
           "1": {"quality": 70, "hash": B, "timestamp": 1.0}, "2": {"hash": C}}
    video = parse_vpdq_json("v", json.dumps(old).encode())
    assert _rows(video.hashes) == [A, B] and video.malformed == 1


def test_bad_json_items_are_counted_and_cut_json_is_refused() -> None:
    video = parse_vpdq_json("v", json.dumps([f"{A},100,0.0", 7, "zz", None,
                                             f"{B},100"]).encode())
    assert _rows(video.hashes) == [A] and video.malformed == 4
    assert "item 2" in video.first_malformed
    with pytest.raises(HashListError, match="not valid JSON"):
        parse_vpdq_json("v", json.dumps([f"{A},100,0.0", f"{B},100,1.0"]).encode()[:-10])
    with pytest.raises(HashListError, match="not valid JSON"):
        parse_vpdq_json("v", b"[" * 100_000 + b"]" * 100_000)  # nesting: no RecursionError
    with pytest.raises(HashListError, match="not a list"):
        parse_vpdq_json("v", b'"a string"')


def test_the_format_is_told_by_content_not_by_name() -> None:
    assert sniff(f"0,100,{A},0.000\n".encode()) == "vpdq"
    assert sniff(f"\ufeffframe,quality,pdq_hex,timestamp\n0,100,{A},0.000\n".encode()) == "vpdq"
    assert sniff(f'  ["{A},100,0.0"]'.encode()) == "vpdq_json"
    assert sniff(b"{}") == "vpdq_json"
    assert sniff(f"hash,label\n{A},case 1\n{B}\n".encode()) == "plain"
    assert sniff(f"{A},0,100,{B},1\n".encode()) == "plain", "a label with commas"
    assert sniff(b"") == "plain" and sniff(b"garbage\n") == "plain"


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=400) | st.text(alphabet="0123456789abcdef,.\n[]\"{} -e",
                                               max_size=400).map(str.encode))
def test_any_bytes_give_hashes_or_a_refusal_never_a_crash(data: bytes) -> None:
    for parse in (parse_vpdq, parse_vpdq_json,
                  lambda n, d: parse_hash_list(n, d, skip_malformed=True)):
        try:
            parsed = parse("v", data)
        except HashListError:
            continue
        assert parsed.hashes.shape[1:] == (32,) and parsed.malformed >= 0
    assert sniff(data) in ("plain", "vpdq", "vpdq_json")


def test_a_time_that_is_not_finite_is_a_malformed_line_not_a_nan_share() -> None:
    h = "a" * 64
    parsed = parse_vpdq("v", f"0,100,{h},0.000\n1,100,{h},1e999\n2,100,{h},1e39\n3,90,{h},3.0\n"
                        .encode())
    assert parsed.times_s.tolist() == [0.0, 3.0] and parsed.malformed == 2
    assert "finite" in parsed.first_malformed
