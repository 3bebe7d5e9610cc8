"""A thin ctypes binding to Chromaprint (libchromaprint.so.1), the AcoustID fingerprinter.

Only the raw fingerprint is used: one 32-bit sub-fingerprint per `ITEM_S` of audio, whose bits
survive re-encoding and moderate noise, so two recordings of the same music agree on most bits
once aligned. Each call (and each `Fingerprinter`) makes its own context, so calls are
thread-safe, and ctypes releases the GIL while the C code runs.
"""

from __future__ import annotations

import ctypes
import functools

import numpy as np
import numpy.typing as npt

from consumer.errors import ChromaprintUnavailable, FingerprintError

LIBRARY = "libchromaprint.so.1"
SAMPLE_RATE = 11025  # Chromaprint resamples to this; feeding it directly skips that step
ITEM_SAMPLES = 4096 // 3  # the default algorithm's hop: a third of its 4096-sample frame
ITEM_S = ITEM_SAMPLES / SAMPLE_RATE  # ~0.1238 s of audio per raw item
# chromaprint_get_delay(): an item describes this much audio (the frame plus the classifiers'
# filter widths): n items come from n * ITEM_S + DELAY_S seconds (less than one item more).
DELAY_S = 28666 / SAMPLE_RATE  # ~2.6 s
_ALGORITHM_DEFAULT = 1  # CHROMAPRINT_ALGORITHM_TEST2


@functools.cache
def _library() -> ctypes.CDLL:
    try:
        lib = ctypes.CDLL(LIBRARY)
    except OSError as exc:
        raise ChromaprintUnavailable(
            f"music matching needs {LIBRARY}: install Debian libchromaprint1 ({exc})") from exc
    context = ctypes.c_void_p
    lib.chromaprint_new.argtypes = [ctypes.c_int]
    lib.chromaprint_new.restype = context
    lib.chromaprint_free.argtypes = [context]
    lib.chromaprint_free.restype = None
    lib.chromaprint_start.argtypes = [context, ctypes.c_int, ctypes.c_int]
    lib.chromaprint_feed.argtypes = [context, ctypes.POINTER(ctypes.c_int16), ctypes.c_int]
    lib.chromaprint_finish.argtypes = [context]
    lib.chromaprint_get_raw_fingerprint.argtypes = [
        context, ctypes.POINTER(ctypes.POINTER(ctypes.c_uint32)), ctypes.POINTER(ctypes.c_int)]
    lib.chromaprint_dealloc.argtypes = [ctypes.c_void_p]
    lib.chromaprint_dealloc.restype = None
    lib.chromaprint_get_version.restype = ctypes.c_char_p
    return lib


def version() -> str:
    """The library's version, e.g. "1.5.1"; raises ChromaprintUnavailable without it."""
    raw: bytes = _library().chromaprint_get_version()
    return raw.decode()


def raw_fingerprint(pcm: npt.NDArray[np.int16],
                    sample_rate: int = SAMPLE_RATE) -> npt.NDArray[np.uint32]:
    """The raw fingerprint of mono 16-bit audio: empty when it is too short (under ~2.5 s)."""
    with Fingerprinter(sample_rate) as fingerprinter:
        fingerprinter.feed(pcm)
        return fingerprinter.finish()


class Fingerprinter:
    """One Chromaprint context fed as audio arrives, so a soundtrack is fingerprinted without
    ever being held whole (32 bytes of fingerprint per second instead of 22 kB of PCM).
    Not thread-safe itself; each soundtrack stream gets its own."""

    def __init__(self, sample_rate: int = SAMPLE_RATE) -> None:
        if sample_rate <= 0:
            raise FingerprintError(f"sample rate must be positive, got {sample_rate}")
        self._lib = _library()
        self._ctx = self._lib.chromaprint_new(_ALGORITHM_DEFAULT)
        if not self._ctx:
            raise FingerprintError("chromaprint_new failed")
        if not self._lib.chromaprint_start(self._ctx, sample_rate, 1):
            self.close()
            raise FingerprintError(f"chromaprint_start refused {sample_rate} Hz mono")

    def __enter__(self) -> Fingerprinter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._ctx:
            self._lib.chromaprint_free(self._ctx)
            self._ctx = None

    def feed(self, pcm: npt.NDArray[np.int16]) -> None:
        """More mono 16-bit samples at the context's rate."""
        samples = np.ascontiguousarray(pcm, dtype=np.int16).reshape(-1)
        chunk = 1 << 20  # the C API counts samples in an int
        for begin in range(0, samples.size, chunk):
            part = samples[begin:begin + chunk]
            if not self._lib.chromaprint_feed(
                    self._ctx, part.ctypes.data_as(ctypes.POINTER(ctypes.c_int16)), part.size):
                raise FingerprintError("chromaprint_feed failed")

    def finish(self) -> npt.NDArray[np.uint32]:
        """The raw fingerprint of everything fed (empty under ~2.5 s); frees the context."""
        lib, ctx = self._lib, self._ctx
        try:
            if not lib.chromaprint_finish(ctx):
                raise FingerprintError("chromaprint_finish failed")
            items = ctypes.POINTER(ctypes.c_uint32)()
            size = ctypes.c_int(0)
            if not lib.chromaprint_get_raw_fingerprint(ctx, ctypes.byref(items),
                                                       ctypes.byref(size)):
                raise FingerprintError("chromaprint_get_raw_fingerprint failed")
            try:
                if size.value <= 0:
                    return np.zeros(0, dtype=np.uint32)
                return np.ctypeslib.as_array(items, shape=(size.value,)).copy()
            finally:
                lib.chromaprint_dealloc(items)
        finally:
            self.close()
