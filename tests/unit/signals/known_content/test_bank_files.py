"""Banks from files, folders and fsspec prefixes: formats mixed and told by content, bad lines
counted within a bound, the whole bank bounded, and a reload on any file changed, added or
removed."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import fsspec
import numpy as np
import pytest

from consumer.data_files import DataFileError
from consumer.errors import ConfigError
from consumer.media.frame_hash import FrameHash
from consumer.signals.known_content.bank_files import read_bank
from consumer.signals.known_content.parse import HashListError, parse_hash_list
from consumer.signals.known_content.settings import HashListRule
from consumer.signals.known_content.store import HashListStore
from tests.unit.signals.known_content.banks import closest


def _hashes(count: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [bytes(row).hex() for row in rng.integers(0, 256, (count, 32), dtype=np.uint8)]


def _vpdq(hashes: list[str], step_s: float = 1.0, quality: int = 100) -> str:
    return "".join(f"{i},{quality},{h},{i * step_s:.3f}\n" for i, h in enumerate(hashes))


def _touch(path: Path, text: str, tick: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, ns=(tick * 10**9, tick * 10**9))  # a distinct mtime, however fast


def _rule(path: Path | str, **fields: object) -> HashListRule:
    return HashListRule(name="bank", path=str(path), action="block",
                        **fields)  # type: ignore[arg-type]


def _store(path: Path | str, events: list[tuple[str, object]] | None = None,
           **fields: object) -> HashListStore:
    seen = events if events is not None else []
    return HashListStore([_rule(path, **fields)], reload_s=60, min_keep_ratio=0.5,
                         on_error=lambda name, reason: seen.append(("error", reason)),
                         on_loaded=lambda name, size: seen.append(("loaded", size)),
                         on_malformed=lambda name, count: seen.append(("malformed", count)))


def test_a_mixed_folder_gives_one_entry_per_plain_line_and_per_video_file(
        tmp_path: Path) -> None:
    h = _hashes(9)
    _touch(tmp_path / "lists" / "known.csv", f"hash,label\n{h[0]},case 1\n{h[1]}\n", 1)
    _touch(tmp_path / "video-17.vpdq.txt", _vpdq(h[2:5], step_s=2.0), 1)  # name: no matter
    _touch(tmp_path / "clip-9.json", json.dumps([f"{h[5]},90,0.0", f"{h[6]},40,1.5"]), 1)
    _touch(tmp_path / ".clip-10.json.tmp", "[", 1)  # a writer's temporary file: left out
    bank = read_bank(_rule(tmp_path)).bank
    assert bank.files == 3 and len(bank) == 7 and len(bank.entries) == 4
    by_entry = {bank.entry_id(e): [bytes(r).hex() for r in bank.hashes[bank.entry_of == e]]
                for e in range(len(bank.entries))}
    assert by_entry == {"clip-9": h[5:7], h[0]: [h[0]], h[1]: [h[1]], "video-17.vpdq": h[2:5]}
    video = next(e for e in range(4) if bank.entry_id(e) == "video-17.vpdq")
    assert bank.entry_kind(video) == "video" and bank.entries.frames[video] == 3
    assert bank.entries.durations_s[video] == 4.0
    plain = next(e for e in range(4) if bank.entry_id(e) == h[0])
    assert bank.entry_kind(plain) == "frame" and bank.entries.labels[plain] == "case 1"
    assert bank.qualities[bank.entry_of == plain].tolist() == [100]
    clip = next(e for e in range(4) if bank.entry_id(e) == "clip-9")
    assert bank.qualities[bank.entry_of == clip].tolist() == [90, 40]
    assert bank.times_s[bank.entry_of == clip].tolist() == [0.0, 1.5]


def test_one_plain_file_loads_as_before_and_a_video_match_is_named_by_its_entry(
        tmp_path: Path) -> None:
    h = _hashes(4)
    _touch(tmp_path / "list.csv", f"{h[0]},case 1\n{h[1]}\n", 1)
    bank = read_bank(_rule(tmp_path / "list.csv")).bank
    assert len(bank.entries) == 2 and list(bank.entries.labels) == ["case 1", None]
    _touch(tmp_path / "case-42.vpdq", _vpdq(h[2:4]), 1)
    store = _store(tmp_path)
    (match,) = closest(store, [FrameHash(_hashes(1, 5)[0], 100), FrameHash(h[3], 100)], [0.0, 7.0])
    assert (match.label, match.distance, match.at_s) == ("case-42", 0, 7.0)
    assert closest(store, [FrameHash(h[0], 100)], [0.0])[0].label == "case 1"
    assert not closest(store, [FrameHash(h[3], 10)], [0.0]), "under min_quality"


def test_banks_load_from_an_fsspec_prefix_and_a_file_uri(tmp_path: Path) -> None:
    fs = fsspec.filesystem("memory")
    h = _hashes(5, seed=3)
    fs.pipe("/banks/b1/v1.vpdq", _vpdq(h[:2]).encode())
    fs.pipe("/banks/b1/more/v2.json", json.dumps([f"{h[2]},100,0.0"]).encode())
    fs.pipe("/banks/b1/list.txt", f"{h[3]}\n".encode())
    bank = read_bank(_rule("memory:///banks/b1")).bank
    assert bank.files == 3 and len(bank) == 4
    assert sorted(bank.entry_id(e) for e in range(len(bank.entries))) == sorted(
        ["v1", "v2", h[3]])
    _touch(tmp_path / "b2" / "v3.vpdq", _vpdq(h[4:]), 1)
    assert read_bank(_rule(f"file://{tmp_path / 'b2'}")).bank.entry_id(0) == "v3"


def test_a_few_bad_lines_are_counted_and_logged_and_too_many_refuse_the_bank(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    h = _hashes(300)
    lines = [f"{i},100,{x},{i}.000" for i, x in enumerate(h)]
    lines[7] = lines[7][:40]  # a cut hash
    _touch(tmp_path / "v.vpdq", "\n".join(lines) + "\n", 1)
    events: list[tuple[str, object]] = []
    with caplog.at_level(logging.WARNING, "consumer.signals.known_content"):
        store = _store(tmp_path, events)
    assert store.lists[0].bank.malformed == 1 and len(store.lists[0].bank) == 299
    assert ("malformed", 1) in events and "bank/v.vpdq', line 8" in caplog.text
    lines[8] = lines[9] = lines[10] = "garbage"  # 4 of 300: above 1%
    _touch(tmp_path / "v.vpdq", "\n".join(lines) + "\n", 2)
    store.refresh()
    assert events[-1] == ("error", "invalid") and store.lists[0].bank.malformed == 1
    with pytest.raises(ConfigError, match=r"4 of 300 lines are not hashes, more than "
                                          r"max_malformed_ratio 0\.01; the first: .*line 8"):
        _store(tmp_path)
    assert _store(tmp_path, max_malformed_ratio=0.02).lists[0].bank.malformed == 4


def test_a_garbage_file_among_the_bank_files_refuses_the_bank(tmp_path: Path) -> None:
    _touch(tmp_path / "v.vpdq", _vpdq(_hashes(50)), 1)
    _touch(tmp_path / "README", "These are our banks.\nDo not edit by hand.\n", 1)
    with pytest.raises(ConfigError, match=r"2 of 52 lines are not hashes.*README', line 1"):
        _store(tmp_path)


@pytest.mark.parametrize("cut", ["vpdq", "json", "plain"])
def test_any_file_caught_mid_write_refuses_the_version(tmp_path: Path, cut: str) -> None:
    h = _hashes(20)
    _touch(tmp_path / "a.vpdq", _vpdq(h[:10]), 1)
    events: list[tuple[str, object]] = []
    store = _store(tmp_path, events)
    text = {"vpdq": _vpdq(h[10:]), "json": json.dumps([f"{x},100,0.0" for x in h[10:]]),
            "plain": "".join(f"{x}\n" for x in h[10:])}[cut]
    _touch(tmp_path / f"b.{cut}", text[:-5], 2)
    store.refresh()
    assert events[-1] == ("error", "invalid") and len(store.lists[0].bank) == 10
    with pytest.raises(ConfigError, match=r"newline|not valid JSON"):
        _store(tmp_path)


def test_a_folder_reloads_when_a_file_is_added_changed_or_removed(tmp_path: Path) -> None:
    h = _hashes(40)
    _touch(tmp_path / "v1.vpdq", _vpdq(h[:10]), 1)
    _touch(tmp_path / "v2.vpdq", _vpdq(h[10:20]), 1)
    events: list[tuple[str, object]] = []
    store = _store(tmp_path, events)
    _touch(tmp_path / "sub" / "v3.vpdq", _vpdq(h[20:30]), 2)  # added, in a subfolder
    store.refresh()
    assert len(store.lists[0].bank) == 30 and closest(store, [FrameHash(h[25], 100)], [0.0])
    _touch(tmp_path / "v1.vpdq", _vpdq(h[30:40]), 3)  # changed
    store.refresh()
    assert closest(store, [FrameHash(h[35], 100)], [0.0])
    assert not closest(store, [FrameHash(h[5], 100)], [0.0])
    (tmp_path / "v2.vpdq").unlink()  # removed: 20 of 30 hashes kept, above half
    store.refresh()
    assert len(store.lists[0].bank) == 20 and not closest(store, [FrameHash(h[15], 100)], [0.0])
    store.refresh()
    assert [e for e in events if e[0] == "loaded"] == [("loaded", n) for n in (20, 30, 30, 20)]
    (tmp_path / "sub" / "v3.vpdq").unlink()
    (tmp_path / "v1.vpdq").unlink()
    store.refresh()
    assert events[-1] == ("error", "empty") and len(store.lists[0].bank) == 20


def test_min_keep_ratio_counts_the_hashes_of_all_files(tmp_path: Path) -> None:
    h = _hashes(100)
    _touch(tmp_path / "big.vpdq", _vpdq(h[:90]), 1)
    _touch(tmp_path / "small.vpdq", _vpdq(h[90:]), 1)
    events: list[tuple[str, object]] = []
    store = _store(tmp_path, events)
    (tmp_path / "big.vpdq").unlink()  # 10 of 100 hashes left: a lost upload, not a new bank
    store.refresh()
    assert events[-1] == ("error", "shrunk") and len(store.lists[0].bank) == 100


def test_an_empty_folder_is_refused_unless_allowed(tmp_path: Path) -> None:
    (tmp_path / "bank").mkdir()
    with pytest.raises(ConfigError, match=r"no hash.*allow_empty"):
        _store(tmp_path / "bank")
    assert len(_store(tmp_path / "bank", allow_empty=True).lists[0].bank) == 0


def test_max_bytes_bounds_the_whole_bank_and_max_files_its_file_count(tmp_path: Path) -> None:
    for i, h in enumerate(_hashes(5)):
        _touch(tmp_path / f"v{i}.vpdq", _vpdq([h]), 1)
    size = sum(p.stat().st_size for p in tmp_path.iterdir())
    assert len(_store(tmp_path, max_bytes=size, max_files=5).lists[0].bank) == 5
    with pytest.raises(ConfigError, match=rf"{tmp_path} is larger than its limit of "
                                          rf"{size - 1} bytes"):
        _store(tmp_path, max_bytes=size - 1)
    with pytest.raises(ConfigError, match=r"holds more than its limit of 4 files \(max_files\)"):
        _store(tmp_path, max_files=4)
    with pytest.raises(DataFileError) as info:
        read_bank(_rule(tmp_path, max_files=4))
    assert info.value.reason == "too_large"


def test_a_plain_list_of_a_million_lines_parses_about_as_fast_as_before(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(1)
    digits = np.frombuffer(b"0123456789abcdef", np.uint8)
    rows = digits[rng.integers(0, 16, (1_000_000, 64))]
    text = np.concatenate((rows, np.full((1_000_000, 1), ord("\n"), np.uint8)), axis=1)
    path = tmp_path / "million.txt"
    path.write_bytes(text.tobytes())
    data = path.read_bytes()
    timings = {}
    for label, run in (("parse_hash_list, strict (as before)", lambda: parse_hash_list("l", data)),
                       ("parse_hash_list, skip_malformed", lambda: parse_hash_list(
                           "l", data, skip_malformed=True)),
                       ("read_bank (read, sniff, parse)", lambda: read_bank(_rule(path)).bank)):
        start = time.perf_counter()
        result = run()
        timings[label] = time.perf_counter() - start
        assert len(result.hashes) == 1_000_000
    with capsys.disabled():
        print("\n1M-line plain list: " + ", ".join(f"{k}: {v:.2f} s" for k, v in timings.items()))


def test_a_strict_parse_still_refuses_a_bad_line() -> None:
    with pytest.raises(HashListError, match="line 2: not a PDQ hash"):
        parse_hash_list("l", "a" * 64 + "\nnope\n")
    parsed = parse_hash_list("l", "a" * 64 + "\nnope\n\xff\n", skip_malformed=True)
    assert len(parsed.hashes) == 1 and parsed.malformed == 2
    assert parsed.first_malformed == "hash list 'l', line 2: not a PDQ hash (64 hex digits)"


def test_video_files_of_the_same_stem_in_two_folders_keep_distinct_ids(tmp_path: Path) -> None:
    h = _hashes(3)
    _touch(tmp_path / "2025" / "case-1.vpdq", _vpdq(h[:1]), 1)
    _touch(tmp_path / "2026" / "case-1.json", json.dumps([f"{h[1]},100,0.0"]), 1)
    _touch(tmp_path / "2026" / "case-2.vpdq", _vpdq(h[2:]), 1)
    bank = read_bank(_rule(tmp_path)).bank
    assert [bank.entry_id(e) for e in range(3)] == ["2025/case-1", "2026/case-1", "case-2"]
    fs = fsspec.filesystem("memory")
    fs.pipe("/dup/a/v.vpdq", _vpdq(h[:1]).encode())
    fs.pipe("/dup/b/v.vpdq", _vpdq(h[1:2]).encode())
    for prefix in ("memory:///dup/", "memory://dup"):
        bank = read_bank(_rule(prefix)).bank
        assert [bank.entry_id(e) for e in range(2)] == ["a/v", "b/v"]
