"""Backtest throughput and the signals record's cost (issue 27).

(a) `vmc backtest`'s work on N synthetic signals records (default 100,000): records built by
the live `Judge` for 1,000 template videos (16 frames, PDQ box + mirror hashes, the default
`nsfw_classifier`; 10% with a known-content match, 5% with on-screen text), copied under new
video ids; then timed stage by stage as the backtest runs them: JSON parse, restore
(Evidence + matches), re-decide (`assess` under a draft lowering the review threshold),
report. With `--kafka` a local broker is started, the records are produced to a 3-partition
topic, and the whole backtest (Kafka read included) is timed as `vmc backtest` runs it.
(b) The signals record per video: its bytes, and the time `Judge` spends building and
encoding it, against the same `Judge` without it and against the whole per-video cost of the
pipeline measured by bench/pipeline.py on this machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from consumer.backtest.draft import apply_draft
from consumer.backtest.redecide import Redecider
from consumer.backtest.report import Report
from consumer.backtest.restore import parse, restore
from consumer.events.source import SourceRef
from consumer.inference.triton_client import TextRead
from consumer.media import Keyframes, ResizeSpec, VideoProbe
from consumer.media.frame_hash import FrameHash
from consumer.models.specs import get_spec
from consumer.pipeline import judge as judge_module
from consumer.pipeline.hooks import PipelineHooks
from consumer.pipeline.judge import Judge
from consumer.pipeline.matching import Matches
from consumer.publishing.limits import RecordLimits
from consumer.publishing.outputs import OutputRecords
from consumer.settings import Settings
from consumer.signals import instances
from consumer.signals.known_content.matching import EntryMatch

SPEC = get_spec("nsfw_classifier")
TEMPLATES = 1000
FRAMES = 16
PIPELINE_S_PER_VIDEO = 1 / 7.57  # bench/pipeline.py end to end on this machine (BENCHMARKS.md)
BANKS = [{"name": "confirmed", "path": "/nonexistent/confirmed", "action": "block"}]
DRAFT = {"signals": {"scores": {"categories": {"nsfw": {"review": 0.4, "block": 0.8}}}}}
BOX = ((10.0, 10.0), (200.0, 10.0), (200.0, 40.0), (10.0, 40.0))


def _settings() -> Settings:
    return Settings(signals={"known_content": {"lists": BANKS}})


def _judge(settings: Settings) -> Judge:
    signals = instances(settings)
    for signal in signals:
        signal.open_offline()
    outputs = OutputRecords(settings.kafka.topics, run_id="live",
                            policy_version=settings.policy.version,
                            model_versions={SPEC.name: SPEC.version},
                            limits=RecordLimits.uniform(1 << 20))
    return Judge(signals, settings.policy, {SPEC.name: SPEC}, outputs, PipelineHooks())


def _video(rng: np.random.Generator, n: int) -> dict[str, Any]:
    probe = VideoProbe(duration_s=60.0, width=1280, height=720, fps=30.0, codec="h264",
                       container="mp4", rotation=0, has_audio=True, bit_rate=None,
                       size_bytes=None)
    spec = ResizeSpec.of(SPEC)
    hashes = [FrameHash(rng.bytes(32).hex(), int(rng.integers(50, 100)), rng.bytes(32).hex())
              for _ in range(FRAMES)]
    keyframes = Keyframes(probe, [round(i * 3.75 + 0.5, 3) for i in range(FRAMES)],
                          {spec: np.zeros((FRAMES, 1, 1, 3), np.uint8)}, hashes=hashes,
                          audio="off")
    nsfw = rng.beta(0.6, 4.0, FRAMES).astype(np.float32)
    scores = np.stack([1 - nsfw, nsfw], axis=1).astype(np.float32)
    matched: dict[str, Any] = {}
    if n % 10 == 0:
        matched["known_content"] = [EntryMatch(
            bank="confirmed", action="block", entry=3, entry_id=f"decision-{n}", kind="video",
            label=f"decision-{n}", distance=6, at_s=4.25, entry_at_s=4.0, variant="box",
            query_share=0.9, compared_share=0.85, covered_s=54.0, decides=True,
            frames=tuple(range(2, FRAMES)))]
    texts = {3: [TextRead("follow me for more", 0.93, BOX), TextRead("link in bio", 0.88, BOX)]
             } if n % 20 == 0 else {}
    return {"keyframes": keyframes, "scores": {SPEC.name: scores}, "texts": texts,
            "matches": Matches(by_signal=matched)}


def _judged(judge: Judge, video: dict[str, Any], n: int) -> Any:
    return judge(SourceRef("video.uploads", n % 6, n), f"tmpl-{n:07d}", video["keyframes"],
                 scores=video["scores"], texts=video["texts"], versions={SPEC.name: "1"},
                 matches=video["matches"], uploaded_at=datetime(2026, 12, 1, tzinfo=UTC))


def signals_cost(judge: Judge, videos: list[dict[str, Any]]) -> dict[str, float]:
    """Judge with and without the signals record, same videos, alternating rounds."""
    real = judge_module.signals_record
    with_s, without_s = [], []
    for _ in range(3):
        start = time.perf_counter()
        values = [_judged(judge, video, n).signals for n, video in enumerate(videos)]
        with_s.append(time.perf_counter() - start)
        judge_module.signals_record = lambda **_: {"video_id": "x"}  # type: ignore[assignment]
        try:
            start = time.perf_counter()
            for n, video in enumerate(videos):
                _judged(judge, video, n)
            without_s.append(time.perf_counter() - start)
        finally:
            judge_module.signals_record = real
    sizes = [len(v.value) for v in values if v is not None]
    added = (min(with_s) - min(without_s)) / len(videos)
    return {"bytes_mean": statistics.mean(sizes), "bytes_max": max(sizes),
            "judge_without_ms": min(without_s) / len(videos) * 1000,
            "added_ms": added * 1000, "share_of_pipeline": added / PIPELINE_S_PER_VIDEO}


def records(judge: Judge, videos: list[dict[str, Any]], count: int) -> list[bytes]:
    templates = []
    for n, video in enumerate(videos):
        judged = _judged(judge, video, n)
        templates.append((judged.signals.value, f"tmpl-{n:07d}".encode()))
    out = []
    for i in range(count):
        value, name = templates[i % len(templates)]
        out.append(value.replace(name, f"v{i:011d}".encode()))
    return out


def backtest(values: list[bytes], redecide: Redecider) -> dict[str, float]:
    """The backtest's stages over all records, each timed on its own pass."""
    start = time.perf_counter()
    parsed = [parse(v) for v in values]
    json_s = time.perf_counter() - start
    start = time.perf_counter()
    restored = [restore(r) for r in parsed]
    restore_s = time.perf_counter() - start
    start = time.perf_counter()
    decisions = [redecide(r) for r in restored]
    decide_s = time.perf_counter() - start
    report = Report()
    start = time.perf_counter()
    for record, decision in zip(parsed, decisions, strict=True):
        report.add(record["video_id"], record, decision)
    summary = report.summary()
    report_s = time.perf_counter() - start
    return {"json_s": json_s, "restore_s": restore_s, "decide_s": decide_s,
            "report_s": report_s, "changed": len(summary["changed"])}


def with_kafka(values: list[bytes], redecide: Redecider) -> dict[str, float]:
    """A local broker; the records produced to a topic; the backtest as `vmc backtest`
    runs it (plan, read, parse, restore, re-decide, report), and a read alone."""
    from confluent_kafka import Producer

    from consumer.backtest.reader import plan, read
    from consumer.settings import KafkaSettings
    from devstack.kafka import KafkaBroker, KafkaPorts, create_topics, kafka_libs_dir
    from devstack.process import free_port, stop_process, wait_until

    defaults = Settings().dev
    home = Path(tempfile.mkdtemp(prefix="vmc-bench-backtest-"))
    broker = KafkaBroker(home, kafka_libs_dir(defaults.cache_dir, defaults.kafka_version),
                         KafkaPorts(free_port(), free_port()), 768)
    process = broker.launch(ttl_s=3600, die_with_parent=True)
    try:
        wait_until("kafka", broker.ready, timeout_s=120, record=process)
        kafka = KafkaSettings(bootstrap_servers=broker.bootstrap)
        topic = "bench.signals"
        create_topics({"bootstrap.servers": broker.bootstrap}, {topic: 3},
                      {topic: {"cleanup.policy": "compact"}})
        producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 50,
                             "compression.type": "lz4"})
        for value in values:
            key = value[value.index(b'"video_id":"') + 12:].split(b'"', 1)[0]
            while True:
                try:
                    producer.produce(topic, value, key)
                    break
                except BufferError:
                    producer.poll(0.1)
        producer.flush(120)
        start = time.perf_counter()
        count = sum(1 for _ in read(kafka, topic, plan(kafka, topic)))
        read_s = time.perf_counter() - start
        start = time.perf_counter()
        report = Report()
        for item in read(kafka, topic, plan(kafka, topic)):
            record = parse(item.value)
            report.add(record["video_id"], record, redecide(restore(record)))
        report.summary()
        total_s = time.perf_counter() - start
    finally:
        stop_process(process)
    return {"kafka_records": count, "read_s": read_s, "total_s": total_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--kafka", action="store_true", help="also through a local broker")
    args = parser.parse_args()
    settings = _settings()
    judge = _judge(settings)
    rng = np.random.default_rng(27)
    videos = [_video(rng, n) for n in range(TEMPLATES)]
    cost = signals_cost(judge, videos)
    print(f"signals record: {cost['bytes_mean']:.0f} bytes per video (max "
          f"{cost['bytes_max']}), {FRAMES} frames; Judge {cost['judge_without_ms']:.3f} ms "
          f"per video without it, +{cost['added_ms']:.3f} ms with it = "
          f"{cost['share_of_pipeline'] * 100:.2f}% of the pipeline's "
          f"{PIPELINE_S_PER_VIDEO * 1000:.0f} ms per video")
    values = records(judge, videos, args.records)
    redecide = Redecider(apply_draft(settings, DRAFT))
    stages = backtest(values, redecide)
    total = sum(v for k, v in stages.items() if k.endswith("_s"))
    print(f"backtest of {args.records} records in memory: {total:.1f} s "
          f"({args.records / total:,.0f} records/s); changed {stages['changed']}")
    for name in ("json_s", "restore_s", "decide_s", "report_s"):
        print(f"  {name[:-2]:>8}: {stages[name]:6.2f} s  {stages[name] / total * 100:5.1f}%  "
              f"{stages[name] / args.records * 1e6:6.1f} us/record")
    if args.kafka:
        kafka = with_kafka(values, redecide)
        print(f"through Kafka: read alone {kafka['read_s']:.1f} s for "
              f"{kafka['kafka_records']} records; whole backtest {kafka['total_s']:.1f} s")


if __name__ == "__main__":
    main()
