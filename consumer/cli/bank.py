"""`vmc bank add FILE_OR_URI... --bank DIR`: bank videos as known content.

A confirmed violation is banked so that its re-uploads are caught by hash. Each video becomes
one entry: a vPDQ file in the reference tool's form (`frame,quality,pdq_hex,timestamp` per
line, one file per video, its stem the entry id), which the known-content banks read like any
vPDQ file from elsewhere.

The video is hashed the way the service hashes uploads (the same isolated workers, source
policy, sampler and content-box PDQ, consumer.media.frame_hash), only denser: an upload is
looked at in `sampling.max_keyframes` frames, but a bank entry should cover its video, so
banking samples one frame every `--every-s` seconds (1 s by default, the vPDQ tool's usual
rate) up to `--max-frames` (600). `--from-tags TAGS.json` banks a video from the tags record
the service published for it (its `frames`: at_s, pdq, quality), without fetching the video.

A file is written to a temporary name (a dot file, which bank loaders skip) and renamed into
place, so a consumer reloading the bank never reads half an entry.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from consumer.cli import UserError
from consumer.media.frame_hash import PDQ_HEX_DIGITS
from consumer.settings import Settings
from consumer.signals.known_content.entries import (
    ENTRY_SUFFIX,
    BankedFrame,
    Entry,
    EntryIdError,
    vpdq_text,
)
from consumer.signals.known_content.entries import entry_id_of as safe_entry_id

if TYPE_CHECKING:
    from consumer.media import Keyframes

DEFAULT_EVERY_S = 1.0
DEFAULT_MAX_FRAMES = 600
_HEX = re.compile(rf"[0-9a-f]{{{PDQ_HEX_DIGITS}}}")




def entry_id_of(name: str) -> str:
    """A file-name-safe entry id (a video id, or a name given with --id)."""
    try:
        return safe_entry_id(name)
    except EntryIdError as exc:
        raise UserError(f"{exc}: give one with --id") from exc


def entry_id_of_uri(uri: str) -> str:
    """A video's default entry id: its path's stem (`clips/case-17.mp4` -> `case-17`)."""
    return entry_id_of(PurePosixPath(urlsplit(uri).path).stem or uri)



def entry_of_keyframes(entry_id: str, keyframes: Keyframes) -> Entry:
    """The entry of a video hashed here: each frame's content-box PDQ, its frame number
    from the stream's rate (the sample's index where the rate is unknown)."""
    fps = keyframes.probe.fps or 0.0
    frames = [BankedFrame(round(t * fps) if fps > 0 else i, h.quality, h.pdq, t)
              for i, (t, h) in enumerate(zip(keyframes.pts_s, keyframes.hashes, strict=True))]
    return Entry(entry_id, frames, keyframes.probe.duration_s)


def entry_of_tags(record: Any, entry_id: str | None = None) -> Entry:
    """The entry of a tags record as the service publishes it: `video_id`, `frames` (at_s,
    pdq, quality per analysed frame) and `technical` (`fps` numbers the frames as the
    reference tool does; without it they are numbered in order; `duration_s`)."""
    if not isinstance(record, dict) or not isinstance(record.get("frames"), list):
        raise UserError("not a tags record with frame hashes: no `frames` list (is "
                        "signals.known_content.frame_hashes on?)")
    given = record.get("technical")
    technical: dict[str, Any] = given if isinstance(given, dict) else {}
    fps, duration = technical.get("fps"), technical.get("duration_s")
    rows = []
    for number, item in enumerate(record["frames"]):
        try:
            pdq, quality, at_s = str(item["pdq"]).lower(), int(item["quality"]), float(
                item["at_s"])
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"frame {number} of the tags record is malformed: {exc}") from exc
        if not _HEX.fullmatch(pdq) or not 0 <= quality <= 100 or not math.isfinite(at_s):
            raise UserError(f"frame {number} of the tags record is malformed: {item!r}")
        rows.append((at_s, quality, pdq))
    if not rows:
        raise UserError("the tags record has no frame hashes")
    rows.sort()
    rate = float(fps) if isinstance(fps, int | float) and fps > 0 else 0.0
    frames = [BankedFrame(round(at_s * rate) if rate else i, quality, pdq, at_s)
              for i, (at_s, quality, pdq) in enumerate(rows)]
    name = entry_id or str(record.get("video_id") or "")
    return Entry(entry_id_of(name), frames,
                 float(duration) if isinstance(duration, int | float) else None)


def write_entry(bank: Path, entry: Entry, *, replace: bool = False) -> Path:
    """Write the entry's vPDQ file into the bank folder atomically (temp file + rename)."""
    target = bank / f"{entry.entry_id}{ENTRY_SUFFIX}"
    if target.exists() and not replace:
        raise UserError(f"{target} exists: the bank has entry {entry.entry_id!r} "
                        "(--replace to overwrite it, or --id for another id)")
    bank.mkdir(parents=True, exist_ok=True)
    temporary = bank / f".{target.name}.{os.getpid()}.partial"
    try:
        with temporary.open("w", encoding="ascii", newline="\n") as out:
            out.write(vpdq_text(entry.frames, entry.label))
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return target


def _hash_videos(args: argparse.Namespace, settings: Settings) -> list[Entry]:
    from consumer.errors import MediaError
    from consumer.media import KeyframeExtractor
    from consumer.media.config import DecodeConfig
    from consumer.media.sources import allowing_named_files

    decode = DecodeConfig.of(settings, frame_hashes=True).with_workers(len(args.inputs))
    decode = decode.with_sampling(max_keyframes=args.max_frames, min_interval_s=args.every_s)
    entries, failures = [], []
    with KeyframeExtractor(decode, allowing_named_files(settings.source, args.inputs)) as pool:
        futures = [(uri, pool.submit(uri, [])) for uri in args.inputs]
        for uri, future in futures:
            try:
                keyframes = future.result()
            except MediaError as exc:
                failures.append(f"{uri}: {exc.reason}: {exc}")
                continue
            if keyframes.coverage is not None and not keyframes.coverage.complete:
                print(f"vmc: {uri}: coverage cut short by a decode limit; banking the "
                      f"{len(keyframes.pts_s)} frames hashed", file=sys.stderr)
            entries.append(entry_of_keyframes(args.id or entry_id_of_uri(uri), keyframes))
    if failures:
        raise UserError("; ".join(failures) if len(failures) == 1 else
                        f"{len(failures)} of {len(args.inputs)} inputs failed: "
                        + "; ".join(failures))
    return entries


def _from_tags(paths: Sequence[str], entry_id: str | None) -> list[Entry]:
    entries = []
    for path in paths:
        try:
            record = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}: not JSON: {exc}") from exc
        try:
            entries.append(entry_of_tags(record, entry_id))
        except UserError as exc:
            raise UserError(f"{path}: {exc}") from exc
    return entries


def _add(args: argparse.Namespace, settings: Settings) -> int:
    if not args.inputs and not args.from_tags:
        raise UserError("nothing to bank: name videos, or tags records with --from-tags")
    if args.id is not None and len(args.inputs) + len(args.from_tags) != 1:
        raise UserError("--id names one entry: give one video or one tags record")
    if args.id is not None:
        args.id = entry_id_of(args.id)
    entries = _from_tags(args.from_tags, args.id)
    if args.inputs:
        entries += _hash_videos(args, settings)
    ids = [e.entry_id for e in entries]
    if len(set(ids)) != len(ids):
        raise UserError(f"two inputs would be the same entry: {sorted(ids)}")
    bank = Path(args.bank)
    if args.label:
        entries = [dataclasses.replace(entry, label=args.label) for entry in entries]
    for entry in entries:
        target = write_entry(bank, entry, replace=args.replace)
        duration = "" if entry.duration_s is None else f" of {entry.duration_s:.1f}s"
        print(f"{target}: {len(entry.frames)} frames{duration}", flush=True)
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def register(commands: Any) -> None:
    bank = commands.add_parser("bank", help="bank videos as known content (vPDQ files)",
                               description="Manage known-content banks (folders of vPDQ files).")
    actions = bank.add_subparsers(dest="bank_command", metavar="ACTION", required=True)
    add = actions.add_parser(
        "add", help="hash videos (or tags records) into a bank folder",
        description="Hash each video the way the service does (same workers, source policy, "
        "sampler and content-box PDQ), one frame every --every-s seconds, and write one "
        "vPDQ file per video into the bank folder, named by its entry id.")
    add.add_argument("inputs", nargs="*", metavar="FILE_OR_URI",
                     help="local path, file://, http(s)://, gs:// or s3:// URI")
    add.add_argument("--bank", required=True, metavar="DIR", help="the bank's folder")
    add.add_argument("--id", help="the entry id (one input only; default: the file's stem, "
                     "or the tags record's video_id)")
    add.add_argument("--label", help="the entries' label (a case id): what match reasons "
                     "carry as `detail`")
    add.add_argument("--from-tags", action="append", default=[], metavar="TAGS.json",
                     help="bank from a published tags record instead of the video")
    add.add_argument("--every-s", type=_positive_float, default=DEFAULT_EVERY_S,
                     help=f"seconds between hashed frames (default {DEFAULT_EVERY_S:g})")
    add.add_argument("--max-frames", type=_positive_int, default=DEFAULT_MAX_FRAMES,
                     help=f"most frames hashed per video (default {DEFAULT_MAX_FRAMES})")
    add.add_argument("--replace", action="store_true", help="overwrite an existing entry")
    add.set_defaults(handler=_add, decodes_video=True)
