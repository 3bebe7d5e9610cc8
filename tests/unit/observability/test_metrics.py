from __future__ import annotations

import json

from prometheus_client import CollectorRegistry, generate_latest

from consumer.inference.breaker import BreakerState
from consumer.observability.health import PipelineProbes
from consumer.observability.metrics import (
    ConsumerMetrics,
    WorkerPoolCollector,
    lag_from_statistics,
)


def test_lag_comes_from_librdkafka_statistics_with_stored_fallback() -> None:
    stats = {"topics": {"uploads": {"partitions": {
        "0": {"consumer_lag": 12, "consumer_lag_stored": 15},
        "1": {"consumer_lag": -1, "consumer_lag_stored": 7},
        "2": {"consumer_lag": -1, "consumer_lag_stored": -1},
        "-1": {"consumer_lag": 99},
    }}, "other": {"partitions": {"0": {"consumer_lag": 5}}}}}
    assert lag_from_statistics(json.dumps(stats), "uploads") == {0: 12, 1: 7}


def test_hooks_feed_prometheus_names_with_units_and_low_cardinality_labels() -> None:
    registry = CollectorRegistry()
    metrics = ConsumerMetrics(registry, "video.uploads")
    metrics.event("accepted")
    metrics.verdict("block", 2.5)
    metrics.failure("media", "too_large")
    metrics.dead_letter("media")
    metrics.keyframes_decoded(4, 0.3)
    metrics.decoded_on("nvdec", None)
    metrics.decoded_on("cpu", "codec")
    metrics.batch("nsfw_detector", 8, 16, 0.2)
    metrics.loop(3, 6, BreakerState.OPEN)
    metrics.statistics(json.dumps({"topics": {"video.uploads": {"partitions": {
        "4": {"consumer_lag": 9}}}}}))
    metrics.hash_list_loaded("known-cases", 1200)
    metrics.signal_match("known_content", "known-cases")
    metrics.hash_list_error("known-cases", "shrunk")
    metrics.catalogues_loaded({"licensed": 10000})
    metrics.signal_time("pdq", 0.004)
    metrics.signal_match("text", "urls")
    metrics.signal_match("music", "licensed")
    metrics.signal_match("brightness", "dark")  # a signal with no counter of its own
    metrics.signal_reason("music", "block")
    registry.register(WorkerPoolCollector(lambda: 2, lambda: 1))
    text = generate_latest(registry).decode()
    for line in (
        'consumer_events_total{outcome="accepted",topic="video.uploads"} 1.0',
        'consumer_videos_total{verdict="block"} 1.0',
        'consumer_failures_total{reason="too_large",stage="media"} 1.0',
        'consumer_dlq_records_total{stage="media"} 1.0',
        "consumer_keyframes_total 4.0",
        'consumer_decoded_videos_total{device="nvdec"} 1.0',
        'consumer_decoded_videos_total{device="cpu"} 1.0',
        'consumer_nvdec_fallbacks_total{reason="codec"} 1.0',
        'consumer_batch_fill_ratio_sum{model="nsfw_detector"} 0.5',
        "consumer_paused_partitions 6.0",
        "consumer_triton_breaker_state 1.0",
        'consumer_lag_messages{partition="4"} 9.0',
        "consumer_decode_worker_restarts_total 2.0",
        "consumer_end_to_end_seconds_count 1.0",
        'consumer_hash_list_hashes{list="known-cases"} 1200.0',
        'consumer_hash_matches_total{list="known-cases"} 1.0',
        'consumer_hash_list_errors_total{list="known-cases",reason="shrunk"} 1.0',
        'consumer_hash_list_errors_total{list="known-cases",reason="empty"} 0.0',
        'consumer_hash_list_stale{list="known-cases"} 1.0',
        'consumer_music_catalogue_tracks{catalogue="licensed"} 10000.0',
        'consumer_music_matches_total{catalogue="licensed"} 1.0',
        'consumer_signal_matches_total{match="dark",signal="brightness"} 1.0',
        'consumer_signal_matches_total{match="known-cases",signal="known_content"} 1.0',
        'consumer_signal_reasons_total{action="block",signal="music"} 1.0',
        'consumer_signal_seconds_bucket{le="0.005",signal="pdq"} 1.0',
        'consumer_text_matches_total{rule="urls"} 1.0',
    ):
        assert line in text, line


class _Pipeline:
    """What the probes read of a Pipeline: the loop's heartbeat, partitions and breaker."""

    def __init__(self) -> None:
        from types import SimpleNamespace

        from consumer.inference.breaker import CircuitBreaker

        self.last_loop_at = 100.0
        self.partitions = SimpleNamespace(assigned={("t", 0)})
        self.batches = SimpleNamespace(
            breaker=CircuitBreaker(failure_threshold=1, reset_s=60))


def test_liveness_follows_the_loop_and_readiness_needs_partitions_triton_and_breaker() -> None:
    pipeline = _Pipeline()
    now = [105.0]
    triton_up = [True]
    probes = PipelineProbes(pipeline, [lambda: triton_up[0]], liveness_timeout_s=30,
                            stale_s=15, clock=lambda: now[0])
    assert not probes.ready()[0], "not ready before Triton was asked once"
    probes.check_models()
    assert probes.live()[0] and probes.ready()[0]
    triton_up[0] = False
    probes.check_models()
    ok, detail = probes.ready()
    assert not ok and detail["triton_ready"] is False
    assert probes.live()[0], "Triton being down never fails liveness"
    triton_up[0] = True
    probes.check_models()
    pipeline.batches.breaker.failure(now[0])
    assert probes.ready()[1]["breaker"] == "open"
    pipeline.batches.breaker.success()
    assert probes.ready()[0]
    now[0] = 125.0
    assert not probes.ready()[0], "an answer older than stale_s (a stuck checker) is not ready"
    probes.check_models()
    pipeline.partitions.assigned = set()
    assert not probes.ready()[0]
    now[0] = 200.0
    assert not probes.live()[0]


def test_readiness_answers_at_once_while_a_triton_check_hangs() -> None:
    import threading
    import time

    release = threading.Event()
    probes = PipelineProbes(_Pipeline(), [lambda: release.wait(30)], liveness_timeout_s=1e9,
                            check_s=0.05)
    probes.start()
    try:
        started = time.monotonic()
        ok, detail = probes.ready()
        assert time.monotonic() - started < 0.5
        assert not ok and detail["triton_ready"] is False
        release.set()
        deadline = time.monotonic() + 5
        while not probes.ready()[0] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert probes.ready()[0]
    finally:
        release.set()
        probes.close()
