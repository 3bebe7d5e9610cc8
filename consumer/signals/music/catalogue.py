"""The reference catalogue: one raw fingerprint per track, built from a folder of audio files
and stored as one compact `.npz` (4 bytes per 0.124 s of audio: ~5.8 kB for 3 minutes).

The file holds no pickles (loaded with `allow_pickle=False`), carries a format name and
version, and is checked on load (offsets, sizes, unique ids), so a foreign or damaged file
fails at start-up with one line instead of matching nonsense. It may live on an object store:
any fsspec URI (s3://, gs://, memory://) is read through fsspec.

Loading is bounded: only a regular file (or object) of at most `max_bytes` is read
(`consumer.data_files`), and since an `.npz` is a zip whose members may be compressed and may
declare any array shape (a crafted 1.5 MB file grew to 1.65 GB), the members' declared sizes
must add up to at most `max_bytes` and each array's header must match its member's size before
any array is allocated.
"""

from __future__ import annotations

import io
import logging
import math
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from consumer.data_files import DataFileError, read_bounded
from consumer.errors import CatalogueError

log = logging.getLogger("consumer.signals.music")

FORMAT = "vmc-music-catalogue"
VERSION = 1
_KEYS = {"format", "version", "ids", "id_offsets", "fingerprints", "offsets"}
DEFAULT_MAX_BYTES = 512 << 20


@dataclass(frozen=True)
class Track:
    """A reference recording: its id (the file's stem) and its raw Chromaprint fingerprint."""

    track_id: str
    fingerprint: npt.NDArray[np.uint32]


def build_catalogue(folder: Path) -> list[Track]:
    """Every audio or video file PyAV opens in `folder` (not its subfolders), sorted by name;
    files without a soundtrack, too short to fingerprint, or mostly noise, silence or a steady
    tone (`low_information`) are skipped with a warning naming them. No flag keeps the last
    kind: matching ignores such stretches of uploads, so the track could never match there; it
    could only hide a mistake (the wrong file, a silent export) in the catalogue."""
    import av

    from consumer.media.chromaprint import raw_fingerprint
    from consumer.media.pcm import soundtrack_pcm
    from consumer.signals.music.information import low_information

    tracks: list[Track] = []
    seen: dict[str, Path] = {}
    for path in sorted(p for p in Path(folder).iterdir() if p.is_file()):
        try:
            container = av.open(str(path))
        except av.FFmpegError as exc:
            log.debug("catalogue: skipping %s: not media PyAV opens (%s)", path.name, exc)
            continue
        try:
            with container:
                pcm = soundtrack_pcm(container, math.inf)
        except av.FFmpegError as exc:
            log.warning("catalogue: skipping %s: its audio does not decode (%s)", path.name, exc)
            continue
        if pcm is None:
            log.warning("catalogue: skipping %s: no audio stream", path.name)
            continue
        fingerprint = raw_fingerprint(pcm)
        if fingerprint.size == 0:
            log.warning("catalogue: skipping %s: too short to fingerprint", path.name)
            continue
        if low_information(fingerprint):
            log.warning("catalogue: skipping %s: mostly noise, silence or a steady tone (no "
                        "fingerprint to match)", path.name)
            continue
        if path.stem in seen:
            raise CatalogueError(f"{folder}: {seen[path.stem].name} and {path.name} would both "
                                 f"be track {path.stem!r}")
        seen[path.stem] = path
        tracks.append(Track(path.stem, fingerprint))
    return tracks


def save_catalogue(tracks: Sequence[Track], path: Path) -> None:
    """Write `tracks` to one `.npz` (ids as UTF-8, fingerprints concatenated)."""
    names = [track.track_id.encode() for track in tracks]
    if len(set(names)) != len(names):
        raise CatalogueError(f"{path}: track ids are not unique")
    lengths = [track.fingerprint.size for track in tracks]
    with open(path, "wb") as handle:
        np.savez(
            handle,
            format=np.frombuffer(FORMAT.encode(), dtype=np.uint8),
            version=np.array([VERSION], dtype=np.int64),
            ids=np.frombuffer(b"".join(names), dtype=np.uint8),
            id_offsets=np.cumsum([0, *map(len, names)], dtype=np.int64),
            fingerprints=np.concatenate(
                [np.zeros(0, np.uint32), *(t.fingerprint.astype("<u4") for t in tracks)]),
            offsets=np.cumsum([0, *lengths], dtype=np.int64))


def load_catalogue(path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> list[Track]:
    """Read and check a catalogue from a local path, file:// or an fsspec URI."""
    try:
        stream = io.BytesIO(read_bounded(path, max_bytes)[0])
        with zipfile.ZipFile(stream) as archive:
            _check_members(path, archive, max_bytes)
        stream.seek(0)
        with np.load(stream, allow_pickle=False) as archive:
            if not set(archive.files) >= _KEYS:
                raise CatalogueError(f"{path}: not a music catalogue (arrays {archive.files})")
            arrays = {key: archive[key] for key in _KEYS}
    except CatalogueError:
        raise
    except DataFileError as exc:
        raise CatalogueError(str(exc)) from exc
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise CatalogueError(f"{path}: cannot read a music catalogue: {exc}") from exc
    return _tracks(path, arrays)


def _check_members(path: str, archive: zipfile.ZipFile, max_bytes: int) -> None:
    """Declared sizes bounded in all, and each array's header (dtype, shape) consistent with
    its member's declared size: nothing is decompressed or allocated beyond them."""
    members = archive.infolist()
    declared = sum(member.file_size for member in members)
    if declared > max_bytes:
        raise CatalogueError(f"{path}: its arrays declare {declared} bytes in all, over the "
                             f"limit of {max_bytes} (max_bytes)")
    for member in members:
        if member.filename.removesuffix(".npy") not in _KEYS:
            continue
        with archive.open(member) as handle:
            shape, dtype = _array_header(path, handle)
            header = handle.tell()
        if dtype.hasobject or header + math.prod(shape) * dtype.itemsize != member.file_size:
            raise CatalogueError(f"{path}: corrupt catalogue (array {member.filename} declares "
                                 f"{shape} {dtype}, not what its {member.file_size} bytes hold)")


def _array_header(path: str, handle: IO[bytes]) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """The shape and dtype an `.npy` member declares, read from its header alone."""
    fmt = np.lib.format
    version = fmt.read_magic(handle)  # type: ignore[no-untyped-call]
    if version == (1, 0):
        shape, _, dtype = fmt.read_array_header_1_0(handle)  # type: ignore[no-untyped-call]
    elif version == (2, 0):
        shape, _, dtype = fmt.read_array_header_2_0(handle)  # type: ignore[no-untyped-call]
    else:
        raise CatalogueError(f"{path}: corrupt catalogue (array format {version})")
    return tuple(shape), dtype


def _tracks(path: str, arrays: dict[str, npt.NDArray[np.generic]]) -> list[Track]:
    if arrays["format"].dtype != np.uint8 or arrays["format"].tobytes() != FORMAT.encode():
        raise CatalogueError(f"{path}: not a music catalogue (format name missing)")
    version = arrays["version"]
    found = int(version[0]) if version.shape == (1,) and version.dtype.kind in "iu" else None
    if found != VERSION:
        raise CatalogueError(f"{path}: catalogue format version {found} is not {VERSION}: "
                             "rebuild it with `vmc catalogue build`")
    ids, id_offsets = arrays["ids"], arrays["id_offsets"]
    fingerprints, offsets = arrays["fingerprints"], arrays["offsets"]
    if ids.dtype != np.uint8 or fingerprints.dtype != np.dtype("<u4") or \
            id_offsets.dtype != np.int64 or offsets.dtype != np.int64:
        raise CatalogueError(f"{path}: corrupt catalogue (unexpected array types)")
    if not (_monotonic(id_offsets, ids.size) and _monotonic(offsets, fingerprints.size)
            and id_offsets.size == offsets.size):
        raise CatalogueError(f"{path}: corrupt catalogue (offsets do not match the data)")
    blob = ids.tobytes()
    try:
        names = [blob[a:b].decode() for a, b in zip(id_offsets[:-1].tolist(),
                                                    id_offsets[1:].tolist(), strict=True)]
    except UnicodeDecodeError as exc:
        raise CatalogueError(f"{path}: corrupt catalogue (track ids are not UTF-8)") from exc
    if len(set(names)) != len(names):
        raise CatalogueError(f"{path}: corrupt catalogue (track ids are not unique)")
    items = fingerprints.astype(np.uint32)
    return [Track(name, items[a:b]) for name, a, b in
            zip(names, offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)]


def _monotonic(offsets: npt.NDArray[np.generic], size: int) -> bool:
    return bool(offsets.ndim == 1 and offsets.size >= 1 and offsets[0] == 0
                and offsets[-1] == size and np.all(np.diff(offsets) >= 0))
