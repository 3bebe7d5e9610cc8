"""A real Prometheus (Debian package) scraping tritonserver and the consumer."""

from __future__ import annotations

import shutil
import urllib.request
from pathlib import Path

from devstack.process import ProcessRecord, StackError, start_process


class PrometheusServer:
    """Generated config, loopback listen address, waits for /-/ready."""

    def __init__(self, home: Path, port: int, scrape_targets: dict[str, list[str]]) -> None:
        self.home = home
        self.port = port
        self.scrape_targets = scrape_targets

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _write_config(self) -> Path:
        lines = ["global:", "  scrape_interval: 2s", "  evaluation_interval: 2s",
                 "scrape_configs:"]
        for job, targets in self.scrape_targets.items():
            lines += [f"  - job_name: {job}", "    static_configs:",
                      "      - targets: [" + ", ".join(f"'{t}'" for t in targets) + "]"]
        path = self.home / "prometheus.yml"
        path.write_text("\n".join(lines) + "\n")
        return path

    def launch(self, *, ttl_s: float, die_with_parent: bool) -> ProcessRecord:
        """Start the process; the caller waits for `ready`."""
        binary = shutil.which("prometheus")
        if binary is None:
            raise StackError("prometheus not found: apt-get install prometheus")
        self.home.mkdir(parents=True, exist_ok=True)
        config = self._write_config()
        argv = [
            binary, f"--config.file={config}", f"--storage.tsdb.path={self.home / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=1d",
        ]
        record = start_process("prometheus", argv, log=self.home / "prometheus.log",
                               ttl_s=ttl_s, die_with_parent=die_with_parent)
        return record

    def ready(self) -> bool:
        with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as resp:
            return bool(resp.status == 200)
