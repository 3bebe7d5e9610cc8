"""`vmc bank add`: a video becomes one vPDQ file in the reference tool's form, hashed the way
the service hashes uploads (content box included), written atomically; a published tags
record banks the same way; mistakes end with one line and exit status 1."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
from skimage import data

from consumer.cli import main
from consumer.cli.bank import BankedFrame, Entry, entry_id_of_uri, vpdq_text, write_entry
from consumer.media import extract_keyframes
from consumer.media.frame_hash import frame_hash
from consumer.settings import SourceSettings
from consumer.signals.known_content.bank_files import read_bank
from consumer.signals.known_content.index import hamming
from consumer.signals.known_content.settings import HashListRule
from devstack.samples import encode_frames, make_video
from tests.unit.media.configs import decode_config

LINE = r"(\d+),(\d+),([0-9a-f]{64}),(\d+\.\d{3})"


def _rows(path: Path) -> list[tuple[int, int, str, float]]:
    text = path.read_text()
    assert text.endswith("\n")
    rows = []
    for line in text.splitlines():
        frame, quality, pdq, at_s = line.split(",")
        assert len(pdq) == 64 and int(pdq, 16) >= 0 and at_s.count(".") == 1
        rows.append((int(frame), int(quality), pdq, float(at_s)))
    return rows


def _dist(a: str, b: str) -> int:
    return int(hamming(np.frombuffer(bytes.fromhex(a), np.uint8)[None],
                       np.frombuffer(bytes.fromhex(b), np.uint8))[0])


def _scenes(seconds: float, fps: int, *, bars: int = 0) -> list[np.ndarray]:
    """A photo panning, then another one (a scene change), optionally letterboxed."""
    frames = []
    photos = [data.astronaut(), data.coffee()[:, :512], data.chelsea()[:, :400]]
    for i in range(int(seconds * fps)):
        photo = photos[min(len(photos) - 1, i * len(photos) // int(seconds * fps))]
        x = (i % fps) * 4
        crop = np.ascontiguousarray(photo[40:320, x:x + 320 * 16 // 9 * 280 // 320])
        frame = av.VideoFrame.from_ndarray(crop, format="rgb24").reformat(
            320, 180, "rgb24").to_ndarray()
        if bars:
            frame = np.pad(frame, ((bars, bars), (0, 0), (0, 0)))
        frames.append(frame)
    return frames


def _video(path: Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    height, width = frames[0].shape[:2]
    encode_frames(path, frames, width=width, height=height, fps=fps, gop=fps)
    return path


def test_the_file_is_the_reference_tools_form() -> None:
    text = vpdq_text([BankedFrame(0, 100, "a" * 64, 0.0), BankedFrame(30, 87, "b" * 64, 1.0)])
    assert text == f"0,100,{'a' * 64},0.000\n30,87,{'b' * 64},1.000\n"


def test_a_video_is_banked_one_frame_a_second_as_the_service_hashes_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    video = _video(tmp_path / "case-17.mp4", _scenes(6.0, 10))
    assert main(["bank", "add", str(video), "--bank", str(tmp_path / "bank")]) == 0
    banked = tmp_path / "bank" / "case-17.txt"
    assert str(banked) in capsys.readouterr().out
    rows = _rows(banked)
    assert [at for *_, at in rows] == pytest.approx([0, 1, 2, 3, 4, 5], abs=0.11)
    assert [frame for frame, *_ in rows] == [round(at * 10) for *_, at in rows]
    decode = decode_config(max_keyframes=600, min_interval_s=1.0, threads=1, frame_hashes=True)
    service = extract_keyframes(str(video), [], decode, SourceSettings(allowed_schemes=["file"]))
    assert [(q, pdq) for _, q, pdq, _ in rows] == [(h.quality, h.pdq) for h in service.hashes]
    assert list(tmp_path.joinpath("bank").iterdir()) == [banked]  # no temp file left


def test_a_letterboxed_copy_banks_close_to_its_source(tmp_path: Path) -> None:
    source = _video(tmp_path / "source.mp4", _scenes(4.0, 10))
    boxed = _video(tmp_path / "boxed.mp4", _scenes(4.0, 10, bars=70))
    bank = tmp_path / "bank"
    assert main(["bank", "add", str(source), str(boxed), "--bank", str(bank)]) == 0
    original, copy = _rows(bank / "source.txt"), _rows(bank / "boxed.txt")
    assert len(original) == len(copy) == 4
    for (_, _, a, _), (_, _, b, _) in zip(original, copy, strict=True):
        assert _dist(a, b) <= 31


def test_a_published_tags_record_banks_its_frames(tmp_path: Path) -> None:
    photo = frame_hash(data.astronaut())
    record = {"video_id": "v/123", "verdict_id": "x",
              "frames": [{"at_s": 2.0, "pdq": photo.mirror_pdq, "quality": 90},
                         {"at_s": 0.5, "pdq": photo.pdq, "quality": photo.quality}],
              "technical": {"duration_s": 3.2}}
    tags = tmp_path / "tags.json"
    tags.write_text(json.dumps(record))
    assert main(["bank", "add", "--from-tags", str(tags), "--bank", str(tmp_path)]) == 0
    assert _rows(tmp_path / "v_123.txt") == [(0, photo.quality, photo.pdq, 0.5),
                                             (1, 90, photo.mirror_pdq, 2.0)]
    assert main(["bank", "add", "--from-tags", str(tags), "--bank", str(tmp_path),
                 "--id", "case 9"]) == 0
    assert (tmp_path / "case_9.txt").exists()
    record["technical"] = {"duration_s": 3.2, "fps": 10.0}  # frames numbered as the tool does
    tags.write_text(json.dumps(record))
    assert main(["bank", "add", "--from-tags", str(tags), "--bank", str(tmp_path), "--id",
                 "numbered"]) == 0
    assert [row[0] for row in _rows(tmp_path / "numbered.txt")] == [5, 20]


def test_a_label_is_written_as_a_comment_and_read_back_as_the_entry_label(
        tmp_path: Path) -> None:
    """The reference form has no label: `# label: ...` first, which the bank reader takes as
    the entry's label (what reasons carry as `detail`) and other vPDQ tools skip."""
    photo = frame_hash(data.astronaut())
    tags = tmp_path / "tags.json"
    tags.write_text(json.dumps({"video_id": "v1", "frames": [
        {"at_s": 0.0, "pdq": photo.pdq, "quality": photo.quality}]}))
    bank = tmp_path / "bank"
    assert main(["bank", "add", "--from-tags", str(tags), "--bank", str(bank),
                 "--label", "NCMEC\ncase 12"]) == 0
    text = (bank / "v1.txt").read_text()
    assert text.splitlines()[0] == "# label: NCMEC case 12"
    read = read_bank(HashListRule(name="b", path=str(bank))).bank
    assert (read.entry_id(0), read.entries.labels[0], read.malformed) == ("v1", "NCMEC case 12",
                                                                          0)


@pytest.mark.parametrize("record", [
    {"video_id": "v"},
    {"video_id": "v", "frames": []},
    {"video_id": "v", "frames": [{"at_s": 0, "pdq": "zz", "quality": 50}]},
    {"video_id": "v", "frames": [{"at_s": 0, "pdq": "a" * 64, "quality": 101}]},
    {"video_id": "", "frames": [{"at_s": 0, "pdq": "a" * 64, "quality": 50}]},
])
def test_a_tags_record_without_usable_frames_is_refused(
        record: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tags = tmp_path / "tags.json"
    tags.write_text(json.dumps(record))
    assert main(["bank", "add", "--from-tags", str(tags), "--bank", str(tmp_path / "b")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("vmc: ") and err.count("\n") == 1 and str(tags) in err
    assert not (tmp_path / "b").exists()


def test_an_existing_entry_is_kept_unless_replaced(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    video = make_video(tmp_path / "clip.mp4", seconds=2.0)
    (tmp_path / "bank").mkdir()
    (tmp_path / "bank" / "clip.txt").write_text("old\n")
    assert main(["bank", "add", str(video), "--bank", str(tmp_path / "bank")]) == 1
    assert "--replace" in capsys.readouterr().err
    assert (tmp_path / "bank" / "clip.txt").read_text() == "old\n"
    assert main(["bank", "add", str(video), "--bank", str(tmp_path / "bank"), "--replace"]) == 0
    assert len(_rows(tmp_path / "bank" / "clip.txt")) == 2


def test_id_names_one_entry_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bank", "add", "a.mp4", "b.mp4", "--id", "x", "--bank", str(tmp_path)]) == 1
    assert "--id names one entry" in capsys.readouterr().err
    assert main(["bank", "add", "--bank", str(tmp_path)]) == 1


def test_an_unreadable_video_fails_with_its_reason(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 4096)
    assert main(["bank", "add", str(broken), "--bank", str(tmp_path / "bank")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("vmc: ") and "broken.mp4" in err
    assert not (tmp_path / "bank").exists()


def test_a_failed_write_leaves_the_old_entry_and_no_partial_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "e.txt").write_text("old\n")

    def fail(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("consumer.cli.bank.os.replace", fail)
    with pytest.raises(OSError, match="space"):
        write_entry(tmp_path, Entry("e", [BankedFrame(0, 100, "a" * 64, 0.0)]), replace=True)
    assert [p.name for p in tmp_path.iterdir()] == ["e.txt"]
    assert (tmp_path / "e.txt").read_text() == "old\n"


def test_the_default_entry_id_is_the_stem_of_the_path() -> None:
    assert entry_id_of_uri("s3://bucket/clips/case-17.mp4?x=1") == "case-17"
    assert entry_id_of_uri("/data/my clip (2).mov") == "my_clip_2"
