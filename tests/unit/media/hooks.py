"""Worker tasks that misbehave on purpose; importable by worker processes (not test cases)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Sequence

import numpy as np

from consumer.media import Keyframes, ResizeSpec, extract_keyframes
from consumer.settings import DecodeSettings, SourceSettings


def misbehaving_task(uri: str, specs: Sequence[ResizeSpec], decode: DecodeSettings,
                     source: SourceSettings) -> Keyframes:
    """`hook:segv` crashes the worker, `hook:hang` never returns, `hook:oom` allocates past
    any sane memory limit; anything else is a normal extraction."""
    if uri == "hook:segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    if uri == "hook:hang":
        time.sleep(3600)
    if uri == "hook:oom":
        hog = np.ones(16 * 1024**3, np.uint8)
        raise AssertionError(f"allocated {hog.nbytes} bytes despite the memory limit")
    return extract_keyframes(uri, specs, decode, source)
