"""Settings that moved (issue 25: settings by concern), so an old name fails at start with one
line naming its new home instead of an "extra inputs" error, or, for a section that is gone,
no error at all (the environment source drops variables of unknown sections silently).

Pure: `renamed_in` reads the merged input of `Settings` and the environment it is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# old dotted path -> new dotted path
RENAMED: dict[str, str] = {
    "decode.max_keyframes": "sampling.max_keyframes",
    "decode.min_interval_s": "sampling.min_interval_s",
    "decode.sampling": "sampling.mode",
    "decode.workers": "workers.count",
    "decode.queue_size": "workers.queue_size",
    "decode.threads": "workers.threads",
    "decode.device": "gpu.decode",
    "decode.gpu_id": "gpu.id",
    "decode.nvdec_workers": "gpu.nvdec_workers",
    "decode.nvdec_decoders": "gpu.nvdec_decoders",
    "decode.frame_hashes": "signals.known_content.frame_hashes",
    "decode.soundtrack": "signals.music.soundtrack",
    "decode.max_soundtrack_s": "signals.music.max_soundtrack_s",
    "decode.max_audio_streams": "signals.music.max_audio_streams",
    "policy.categories": "signals.scores.categories",
    "policy.tag_min_score": "signals.scores.tag_min_score",
    "policy.hash_lists": "signals.known_content.lists",
    "policy.hash_lists_reload_s": "signals.known_content.reload_s",
    "policy.hash_lists_min_keep_ratio": "signals.known_content.min_keep_ratio",
    "policy.text_rules": "signals.text.rules",
    "audio.catalogues": "signals.music.catalogues",
    "audio.min_confidence": "signals.music.min_confidence",
    "audio.min_duration_s": "signals.music.min_duration_s",
    "audio": "signals.music",
}


def env_name(path: str, prefix: str = "VMC_", delimiter: str = "__") -> str:
    return prefix + delimiter.join(path.upper().split("."))


def renamed_in(data: Any, environ: Mapping[str, str]) -> list[str]:
    """One line per old name found: in the merged input (keyword overrides, TOML, variables
    of sections that still exist) or among the environment's variable names (case-insensitive,
    as the settings read them)."""
    names = {key.upper() for key in environ}
    found: list[str] = []
    for old in RENAMED:
        if "." not in old:  # a whole section: named only when none of its fields was
            if any(f.startswith(old + ".") for f in found):
                continue
            if _given(data, [old]) or any(n == env_name(old) or n.startswith(
                    env_name(old) + "__") for n in names):
                found.append(old)
        elif _given(data, old.split(".")) or env_name(old) in names:
            found.append(old)
    return [f"{old} was renamed: use {RENAMED[old]} ({env_name(RENAMED[old])})"
            for old in found]


def _given(data: Any, path: list[str]) -> bool:
    for part in path:
        if not isinstance(data, Mapping) or part not in data:
            return False
        data = data[part]
    return True
