"""Which stretches of a fingerprint carry information: noise, silence and pure tones do not.

Chromaprint's classifiers answer a flat or steady spectrum with the same bits over and over:
white noise sets each bit with a fixed bias (one noise fingerprint agrees with another, of any
seed, rate or level, on ~0.82 of its bits), a tone or silence holds every bit. Two such
stretches "match" at a confidence a threshold meant for music cannot tell from the real thing
(a noise track matched unrelated noise at 0.816). The measure: over a window of items, each bit
is set with a share p; two independent stretches with those shares agree by chance on
mean(p^2 + (1 - p)^2) of their bits. Measured over 10 s windows (bench/audio_noise.py):
generated music, speech and music under speech or noise stay at 0.54-0.67; pink noise 0.71-0.80,
white noise and dithered silence 0.80-0.87, tones 1.0. Stretches at or above `LOW_INFORMATION`
are ignored by matching, and a catalogue track that is mostly such stretches is not built in.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

LOW_INFORMATION = 0.68  # chance agreement from which a stretch says nothing
WINDOW_ITEMS = 81  # ~10 s: the shortest segment reported by default
MIN_INFORMATIVE_SHARE = 0.5  # a catalogue track with less is not built in
_BITS = np.arange(32, dtype=np.uint32)
_BLOCK_ITEMS = 8192  # ~17 min of items per block


def chance_agreement(fingerprint: npt.NDArray[np.uint32],
                     window: int = WINDOW_ITEMS) -> npt.NDArray[np.float64]:
    """Per item, the share of bits a stretch with the same bit biases would agree on by
    chance, over a centred window (shrinking at the edges); ~0.5 for random bits, 1.0 held."""
    items = np.asarray(fingerprint, dtype=np.uint32)
    if items.size == 0:
        return np.zeros(0, dtype=np.float64)
    ones = np.zeros((items.size + 1, 32), dtype=np.int32)
    np.cumsum((items[:, None] >> _BITS) & np.uint32(1), axis=0, out=ones[1:])
    half = window // 2
    index = np.arange(items.size)
    lo, hi = np.maximum(0, index - half), np.minimum(items.size, index + half + 1)
    k = (ones[hi] - ones[lo]).astype(np.float64)
    n = (hi - lo).astype(np.float64)[:, None]
    # Two items drawn from the window without replacement agree on a bit with probability
    # (k(k-1) + (n-k)(n-k-1)) / (n(n-1)): unlike p^2 + (1-p)^2 it does not favour short windows.
    same = (k * (k - 1) + (n - k) * (n - k - 1)) / np.maximum(1.0, n * (n - 1))
    agreement: npt.NDArray[np.float64] = np.where(n[:, 0] < 2, 1.0, same.mean(axis=1))
    return agreement


def informative(fingerprint: npt.NDArray[np.uint32],
                window: int = WINDOW_ITEMS) -> npt.NDArray[np.bool_]:
    """True for the items whose stretch can tell music apart (under `LOW_INFORMATION`).
    Worked out in blocks, so a long soundtrack costs 1 byte per item, not 300."""
    items = np.asarray(fingerprint, dtype=np.uint32)
    mask = np.zeros(items.size, dtype=bool)
    half = window // 2
    for begin in range(0, items.size, _BLOCK_ITEMS):
        end = min(items.size, begin + _BLOCK_ITEMS)
        lo, hi = max(0, begin - half), min(items.size, end + half)
        agreement = chance_agreement(items[lo:hi], window)[begin - lo:end - lo]
        mask[begin:end] = agreement < LOW_INFORMATION
    return mask


def low_information(fingerprint: npt.NDArray[np.uint32]) -> bool:
    """Mostly noise, silence or a tone: under `MIN_INFORMATIVE_SHARE` of its items inform.
    A fingerprint shorter than one window (~12.6 s of audio) is too short to judge: False."""
    if np.asarray(fingerprint).size < WINDOW_ITEMS:
        return False
    return float(informative(fingerprint).mean()) < MIN_INFORMATIVE_SHARE
