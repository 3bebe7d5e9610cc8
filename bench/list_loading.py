"""Loading hash lists and music catalogues: time and peak memory to read, parse and index a
2,000,000-line hash list, and how late a 10 ms ticker thread (standing in for the poll loop)
runs while another thread loads it; the same for a catalogue of 10,000 three-minute tracks.

    .venv/bin/python bench/list_loading.py [--lines 2000000] [--tracks 10000]
                                           [--before REV] [--repeat 3] [--results FILE]

Each measurement runs in fresh subprocesses (peak RSS from ru_maxrss, minus the RSS before the
load; best of --repeat, the ticker's median). `--before REV` also measures the code of that
git revision (extracted with `git archive`), in the same run, with the same files.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if "--child" not in sys.argv:  # a child imports the code under test, from its PYTHONPATH
    sys.path.insert(0, str(ROOT))
TICK_S = 0.010


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _child(kind: str, path: str, stall: bool) -> None:
    """Runs in the subprocess: load once, print JSON figures."""
    if kind == "idle":  # the ticker's lateness with nothing loading: the machine's noise

        def work() -> int:
            time.sleep(3)
            return 0
    elif kind == "list":
        from consumer.settings import HashListRule
        from consumer.signals.known_content.store import load

        rule = HashListRule(name="bench", path=path)

        def work() -> int:
            return len(load(rule).index)
    else:
        from consumer.signals.music.catalogue import load_catalogue
        from consumer.signals.music.matching import CatalogueIndex

        def work() -> int:
            tracks = load_catalogue(path)
            CatalogueIndex(tracks)
            return len(tracks)

    before = _rss_mb()
    worst = [0.0]
    lateness: list[float] = []
    done = threading.Event()

    def ticker() -> None:  # the poll loop's stand-in: sleeps 10 ms, notes how late it wakes
        while not done.is_set():
            started = time.perf_counter()
            time.sleep(TICK_S)
            late = time.perf_counter() - started - TICK_S
            lateness.append(late)
            worst[0] = max(worst[0], late)

    thread = threading.Thread(target=ticker, daemon=True)
    if stall:
        thread.start()
        time.sleep(0.2)
    started, cpu = time.perf_counter(), time.process_time()
    size = work()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    done.set()
    if stall:
        thread.join()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"size": size, "seconds": seconds, "cpu_s": cpu, "peak_mb": peak - before,
                      "worst_late_ms": worst[0] * 1000,
                      "p99_late_ms": float(np.percentile(lateness, 99)) * 1000
                      if lateness else 0.0}))


def _measure(code: Path, kind: str, path: Path, repeat: int) -> dict[str, float]:
    """Best of `repeat` fresh processes for time and memory, median for the ticker."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", kind,
                              str(path), "--stall"], env=env, cwd=code,
                             capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {"size": runs[0]["size"],
            **{key: min(r[key] for r in runs) for key in ("seconds", "cpu_s", "peak_mb")},
            **{key: float(np.median([r[key] for r in runs]))
               for key in ("worst_late_ms", "p99_late_ms")}}


def _make_list(path: Path, lines: int) -> None:
    rng = np.random.default_rng(1)
    with open(path, "w") as out:
        out.write("hash,label\n")
        for start in range(0, lines, 100_000):
            block = rng.integers(0, 256, (min(100_000, lines - start), 32), dtype=np.uint8)
            out.writelines(f"{row.tobytes().hex()},case-{start + i}\n"
                           for i, row in enumerate(block))


def _make_catalogue(path: Path, tracks: int) -> None:
    from consumer.signals.music.catalogue import Track, save_catalogue

    rng = np.random.default_rng(2)
    items = int(180 / 0.1238)  # 3 minutes of Chromaprint items
    save_catalogue([Track(f"t{i}", rng.integers(0, 2**32, items, dtype=np.uint64)
                          .astype(np.uint32)) for i in range(tracks)], path)


def _before_code(rev: str, folder: Path) -> Path:
    archive = subprocess.run(["git", "archive", rev, "consumer", "bench", "triton_models"],
                             cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def main() -> None:
    from bench.report import emit

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--tracks", type=int, default=10_000)
    parser.add_argument("--before", metavar="REV", help="also measure this git revision")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--results", type=Path)
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--stall", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], args.child[1], args.stall)
        return
    with tempfile.TemporaryDirectory(prefix="vmc-bench-lists-") as tmp:
        folder = Path(tmp)
        hash_list, catalogue = folder / "list.csv", folder / "catalogue.vmccat"
        _make_list(hash_list, args.lines)
        _make_catalogue(catalogue, args.tracks)
        versions = [("this tree", ROOT)]
        if args.before:
            (folder / "before").mkdir()
            versions.insert(0, (f"before ({args.before})", _before_code(args.before,
                                                                          folder / "before")))
        lines = [f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python "
                 f"{platform.python_version()}, numpy {np.__version__}. List: "
                 f"{args.lines:,} lines `hash,case-N` ({hash_list.stat().st_size / 2**20:.0f}"
                 f" MiB); catalogue: {args.tracks:,} tracks of 3 min "
                 f"({catalogue.stat().st_size / 2**20:.0f} MiB). Each figure from "
                 f"{args.repeat} fresh processes: best load time (wall and CPU) and peak "
                 "memory (ru_maxrss minus the RSS before the load), median lateness of a "
                 "ticker thread (sleeps 10 ms in a loop, as the poll loop would turn) while "
                 f"the load runs on the main thread. Load average at the start: "
                 f"{os.getloadavg()[0]:.2f}.", "",
                 "| what | code | load time (CPU) | peak memory | ticker: worst lateness "
                 "| p99 |", "| --- | --- | --- | --- | --- | --- |"]
        idle = _measure(ROOT, "idle", hash_list, args.repeat)
        lines.append(f"| nothing (3 s sleep: the machine's noise) | - | - | - | "
                     f"{idle['worst_late_ms']:.0f} ms | {idle['p99_late_ms']:.1f} ms |")
        for kind, path in (("list", hash_list), ("catalogue", catalogue)):
            for name, code in versions:
                got = _measure(code, kind, path, args.repeat)
                what = f"{got['size']:,} hashes" if kind == "list" else \
                    f"{got['size']:,} tracks (+ index)"
                lines.append(f"| {what} | {name} | {got['seconds']:.2f} s "
                             f"({got['cpu_s']:.2f} s) | {got['peak_mb']:.0f} MB | "
                             f"{got['worst_late_ms']:.0f} ms | {got['p99_late_ms']:.1f} ms |")
    emit(lines, args.results)


if __name__ == "__main__":
    main()
