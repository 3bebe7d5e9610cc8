"""Is Triton alive? Asked on a thread of its own when a request timed out and nothing else
says so, since the loop never waits on the network. One question per model at a time; the
answer comes back to the loop as a `Probed` completion.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from consumer.pipeline.completions import Probed


class HealthProbe:
    def __init__(self, model: str, ready: Callable[[], bool],
                 report: Callable[[Probed], None]) -> None:
        self.model = model
        self.ready = ready
        self.report = report
        self._running = threading.Lock()

    def request(self) -> None:
        """Ask now unless a question is already out (its answer serves both)."""
        if not self._running.acquire(blocking=False):
            return
        threading.Thread(target=self._ask, name=f"probe-{self.model}", daemon=True).start()

    def _ask(self) -> None:
        try:
            alive = bool(self.ready())
        except Exception:  # any failure to answer is "not alive"
            alive = False
        finally:
            self._running.release()
        self.report(Probed(self.model, alive))
