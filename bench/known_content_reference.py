"""Known content against a bank made by the vPDQ reference implementation: each source of the
generated variant set hashed by facebook/ThreatExchange's vPDQ (the `vpdq` Python bindings of
its C++ code, one hash a second, whole frames, no content box), written in the reference tool's
`frame,quality,pdq_hex,timestamp` form, loaded as a bank folder; every variant and unrelated
clip uploaded as `vmc run` samples and hashes it, matched with the default video rule. The same
protocol as the held-out test (real phone videos and a reference-tool bank), on our own clips.

    .venv/bin/python bench/known_content_reference.py --vpdq-python PYTHON [--sources 3]

PYTHON: an interpreter with `vpdq` installed (it builds against FFmpeg's development
libraries: `apt-get install libavformat-dev libavcodec-dev libavdevice-dev libavfilter-dev
libswscale-dev libswresample-dev libavutil-dev`, then `pip install vpdq`); it is not a
dependency of the project.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.known_content_variants import _upload
from bench.report import emit
from consumer.signals.known_content.matching import match_banks
from consumer.signals.known_content.settings import HashListRule
from consumer.signals.known_content.store import load
from devstack.variants import VARIANTS, make_variant_set

_HASHER = """
import json, sys, vpdq
for path, out in json.loads(sys.argv[1]):
    features = vpdq.computeHash(path, seconds_per_hash=1.0)
    with open(out, "w") as f:
        for x in features:
            f.write(f"{x.frame_number},{x.quality},{x.hex},{x.timestamp:.3f}\\n")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vpdq-python", required=True)
    parser.add_argument("--sources", type=int, default=3)
    parser.add_argument("--unrelated", type=int, default=3)
    parser.add_argument("--results", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        videos = make_variant_set(folder / "videos", sources=args.sources,
                                  unrelated=args.unrelated)
        bank = folder / "bank"
        bank.mkdir()
        sources = [f"source-{i}" for i in range(args.sources)]
        jobs = [(str(videos[(name, "source")]), str(bank / f"{name}.txt")) for name in sources]
        subprocess.run([args.vpdq_python, "-c", _HASHER, json.dumps(jobs)], check=True)
        indexed = load(HashListRule(name="reference", path=str(bank), action="block"))
        rows = ["| variant | found as its entry | wrong entry | shares (query/compared) |",
                "| --- | ---: | ---: | --- |"]
        total = wrong_total = related = 0
        for variant in [*VARIANTS, "unrelated"]:
            keys = ([(name, variant) for name in sources] if variant != "unrelated" else
                    [key for key in videos if key[1] == "unrelated"])
            found = wrong = 0
            shares = []
            for key in keys:
                frames, pts_s, duration_s = _upload(videos[key])
                matches = match_banks([indexed], frames, pts_s, duration_s)
                right = [m for m in matches if m.entry_id == key[0]]
                found += bool(right)
                wrong += any(m.entry_id != key[0] for m in matches)
                shares += [f"{m.query_share:.2f}/{m.compared_share:.2f}" for m in right]
            if variant != "unrelated":
                total, related = total + found, related + len(keys)
            wrong_total += wrong
            rows.append(f"| {variant} | {found}/{len(keys)} | {wrong} | "
                        f"{' '.join(shares[:3])} |")
        summary = (f"{total}/{related} related uploads found as their entry, {wrong_total} "
                   "false matches (a wrong entry, or any entry for an unrelated clip)")
    lines = [f"Machine: {platform.machine()}, Python {platform.python_version()}; bank: "
             f"{args.sources} sources hashed by the vPDQ reference (one hash a second); "
             "uploads hashed by the service (content box, mirror, whole frame); default "
             "video rule.", "", *rows, "", summary]
    emit(lines, args.results)


if __name__ == "__main__":
    main()
