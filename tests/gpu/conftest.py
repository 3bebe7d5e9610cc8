"""GPU tests: they run where a CUDA device with NVDEC and the `[gpu]` extra are present (the
lent GPU machine, through the device tool: BENCHMARKS.md, GPU node mode, says what to carry);
elsewhere every one is skipped, and says why."""

from __future__ import annotations

import importlib.util

import pytest

_MISSING = [m for m in ("PyNvVideoCodec", "torch") if importlib.util.find_spec(m) is None]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = None
    if _MISSING:
        reason = f"GPU node mode needs {', '.join(_MISSING)} (extra [gpu])"
    else:
        import torch

        if not torch.cuda.is_available():
            reason = "no CUDA device here"
    for item in items:
        if "tests/gpu/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.gpu)
            if reason is not None:
                item.add_marker(pytest.mark.skip(reason=reason))
