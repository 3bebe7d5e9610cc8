"""The consumer's Prometheus metrics, fed by the pipeline's hooks.

One registry is passed in (no globals), names follow Prometheus conventions: one `consumer_`
prefix, base units, `_total` on counters, labels of low cardinality (never a video id).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from consumer.inference.breaker import BreakerState
from consumer.pipeline.hooks import PipelineHooks
from consumer.policy.decide import ALLOW, BLOCK, REVIEW, UNPROCESSABLE

SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)
SIGNAL_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)
FILL_BUCKETS = (0.125, 0.25, 0.5, 0.75, 0.9, 1.0)
# Why a hash list reload failed (consumer.signals.known_content.store, consumer.data_files).
HASH_LIST_ERROR_REASONS = ("invalid", "empty", "shrunk", "too_large", "not_regular_file",
                           "changing", "unreadable", "error")


class ConsumerMetrics(PipelineHooks):
    """Every metric of design.md section 7, plus batch fill, breaker state, DLQ records."""

    def __init__(self, registry: CollectorRegistry, topic: str) -> None:
        self.topic = topic
        self.events = Counter("consumer_events", "Input events by outcome "
                              "(accepted, invalid)", ["topic", "outcome"], registry=registry)
        self.videos = Counter("consumer_videos", "Videos with a verdict, by verdict",
                              ["verdict"], registry=registry)
        self.failures = Counter("consumer_failures", "Failures by stage and reason",
                                ["stage", "reason"], registry=registry)
        self.dlq = Counter("consumer_dlq_records", "Records written to the DLQ, by stage",
                           ["stage"], registry=registry)
        self.keyframes = Counter("consumer_keyframes", "Keyframes decoded", registry=registry)
        self.decoded_videos = Counter("consumer_decoded_videos", "Videos decoded, by device "
                                      "(cpu, nvdec)", ["device"], registry=registry)
        self.nvdec_fallbacks = Counter("consumer_nvdec_fallbacks", "Videos an NVDEC worker "
                                       "decoded on the CPU, by reason (codec, pixel_format, "
                                       "size, nvdec_error)", ["reason"], registry=registry)
        # Every label value exists from the start (at 0), so a CPU node's dashboard shows
        # "no fallback" rather than "no data", and rate() sees the first increment.
        for device in ("cpu", "nvdec"):
            self.decoded_videos.labels(device)
        for reason in ("codec", "pixel_format", "size", "nvdec_error"):
            self.nvdec_fallbacks.labels(reason)
        self.decode_seconds = Histogram("consumer_decode_seconds",
                                        "Event accepted -> keyframes ready, per video",
                                        buckets=SECONDS_BUCKETS, registry=registry)
        self.inference_seconds = Histogram("consumer_inference_seconds",
                                           "Triton request time per batch", ["model"],
                                           buckets=SECONDS_BUCKETS, registry=registry)
        self.batch_size = Histogram("consumer_batch_size", "Keyframes per inference batch",
                                    ["model"], buckets=BATCH_BUCKETS, registry=registry)
        self.batch_fill = Histogram("consumer_batch_fill_ratio",
                                    "Batch size / largest batch allowed", ["model"],
                                    buckets=FILL_BUCKETS, registry=registry)
        self.end_to_end = Histogram("consumer_end_to_end_seconds",
                                    "Upload (event uploaded_at) -> verdict produced",
                                    buckets=SECONDS_BUCKETS, registry=registry)
        self.inflight = Gauge("consumer_inflight_videos", "Videos in flight (not committed)",
                              registry=registry)
        self.paused = Gauge("consumer_paused_partitions", "Input partitions paused",
                            registry=registry)
        self.assigned = Gauge("consumer_assigned_partitions", "Input partitions assigned",
                              registry=registry)
        self.breaker = Gauge("consumer_triton_breaker_state",
                             "Circuit breaker: 0 closed, 1 open, 2 half-open", registry=registry)
        self.lag = Gauge("consumer_lag_messages", "Messages behind the end, per input partition",
                         ["partition"], registry=registry)
        self.last_loop = Gauge("consumer_last_loop_timestamp_seconds",
                               "When the poll loop last turned (liveness)", registry=registry)
        self.signal_seconds = Histogram("consumer_signal_seconds",
                                        "Time per video spent on one signal (pdq: hashing "
                                        "its frames; audio: decoding and fingerprinting the "
                                        "soundtrack; <signal>_match: a signal's matching, e.g. "
                                        "known_content_match, music_match)",
                                        ["signal"], buckets=SIGNAL_BUCKETS, registry=registry)
        self.hash_matches = Counter("consumer_hash_matches", "Videos matching a hash list of "
                                    "known content, by list", ["list"], registry=registry)
        self.hash_list_errors = Counter("consumer_hash_list_errors", "Hash list reloads that "
                                        "failed or were refused (the previous version stays), "
                                        "by reason", ["list", "reason"], registry=registry)
        self.hash_list_stale = Gauge("consumer_hash_list_stale", "1 while the list's file was "
                                     "refused or unreadable at the last check and the previous "
                                     "version is served", ["list"], registry=registry)
        self.catalogue_tracks = Gauge("consumer_music_catalogue_tracks", "Tracks in each "
                                      "loaded music catalogue", ["catalogue"], registry=registry)
        self.text_matches = Counter("consumer_text_matches", "Videos whose on-screen text "
                                    "matched a text rule, by rule", ["rule"], registry=registry)
        self.music_matches = Counter("consumer_music_matches", "Catalogue tracks heard in "
                                     "uploads' soundtracks, by catalogue", ["catalogue"],
                                     registry=registry)
        self.signal_matches = Counter("consumer_signal_matches", "What each signal matched in "
                                      "videos (a list, a rule, a catalogue), by signal",
                                      ["signal", "match"], registry=registry)
        self.signal_reasons = Counter("consumer_signal_reasons", "Verdict reasons each signal "
                                      "gave, by signal and action", ["signal", "action"],
                                      registry=registry)
        self._matches_by_signal = {"known_content": self.hash_matches,
                                   "text": self.text_matches, "music": self.music_matches}
        self.record_truncations = Counter(
            "consumer_record_truncations", "Output records cut to fit their topic's size "
            "limit, by topic kind (verdicts, tags, dlq) and field cut", ["topic_kind", "field"],
            registry=registry)
        self.hash_list_size = Gauge("consumer_hash_list_hashes", "Hashes in each loaded list",
                                    ["list"], registry=registry)
        self.hash_list_malformed = Gauge("consumer_hash_list_malformed_lines", "Lines (or JSON "
                                         "items) of each served bank's files skipped as "
                                         "malformed", ["list"], registry=registry)
        self.registry = registry  # collectors read at scrape time register here
        self.bank_enabled = Gauge("consumer_known_content_bank_enabled", "1 for a known-content "
                                  "bank that is loaded and matched, 0 for one switched off "
                                  "(enabled=false), by bank and action", ["bank", "action"],
                                  registry=registry)
        self.bank_matches = Counter("consumer_known_content_matches", "Videos matching a "
                                    "known-content bank, by bank and the action applied (block, "
                                    "review, shadow: counted only, allow)", ["bank", "action"],
                                    registry=registry)
        self.bank_suppressed = Counter("consumer_known_content_suppressed", "Videos whose match "
                                       "in a bank was suppressed by an allow bank's entry, by "
                                       "bank and allow bank", ["bank", "allow_bank"],
                                       registry=registry)
        self.bank_demotions = Counter("consumer_known_content_demotions", "Block matches "
                                      "demoted to review because the entry is in flood "
                                      "quarantine, by bank", ["bank"], registry=registry)
        self.review_tasks = Counter("consumer_review_tasks", "Review tasks published, by why "
                                    "(review, audit_allow, audit_block)", ["sampled"],
                                    registry=registry)
        for sampled in ("review", "audit_allow", "audit_block"):
            self.review_tasks.labels(sampled)
        # Known label values start at 0, so the first increase shows up in rate().
        for outcome in ("accepted", "invalid"):
            self.events.labels(topic, outcome)
        for verdict in (ALLOW, REVIEW, BLOCK, UNPROCESSABLE):
            self.videos.labels(verdict)
        for stage in ("parse", "media"):
            self.dlq.labels(stage)

    def event(self, outcome: str) -> None:
        self.events.labels(self.topic, outcome).inc()

    def verdict(self, verdict: str, latency_s: float | None) -> None:
        self.videos.labels(verdict).inc()
        if latency_s is not None and latency_s >= 0:
            self.end_to_end.observe(latency_s)

    def failure(self, stage: str, reason: str) -> None:
        self.failures.labels(stage, reason).inc()

    def dead_letter(self, stage: str) -> None:
        self.dlq.labels(stage).inc()

    def keyframes_decoded(self, count: int, decode_s: float) -> None:
        self.keyframes.inc(count)
        self.decode_seconds.observe(decode_s)

    def decoded_on(self, device: str, fallback: str | None) -> None:
        self.decoded_videos.labels(device).inc()
        if fallback is not None:
            self.nvdec_fallbacks.labels(fallback).inc()

    def batch(self, model: str, size: int, capacity: int, seconds: float) -> None:
        self.inference_seconds.labels(model).observe(seconds)
        self.batch_size.labels(model).observe(size)
        self.batch_fill.labels(model).observe(size / capacity)

    def loop(self, inflight: int, paused: int, breaker: BreakerState) -> None:
        self.inflight.set(inflight)
        self.paused.set(paused)
        self.breaker.set(breaker.value)
        self.last_loop.set(time.time())

    def assignment(self, partitions: int) -> None:
        self.assigned.set(partitions)

    def signal_time(self, signal: str, seconds: float) -> None:
        self.signal_seconds.labels(signal).observe(seconds)

    def signal_match(self, signal: str, match: str) -> None:
        self.signal_matches.labels(signal, match).inc()
        named = self._matches_by_signal.get(signal)  # the long-standing per-signal counters
        if named is not None:
            named.labels(match).inc()

    def signal_reason(self, signal: str, action: str) -> None:
        self.signal_reasons.labels(signal, action).inc()

    def review_task(self, sampled: str) -> None:
        self.review_tasks.labels(sampled).inc()

    def record_truncated(self, topic_kind: str, cut: Mapping[str, int]) -> None:
        for field in cut:
            self.record_truncations.labels(topic_kind, field).inc()

    def text_rules_loaded(self, rules: list[str]) -> None:
        """Starts each rule's counter at 0, so a first match shows in rate()."""
        for rule in rules:
            self.text_matches.labels(rule)

    def hash_list_loaded(self, list_name: str, size: int) -> None:
        """Also starts the list's counters at 0, so a first match shows in rate()."""
        self.hash_list_size.labels(list_name).set(size)
        self.hash_list_stale.labels(list_name).set(0)
        self.hash_matches.labels(list_name)
        for reason in HASH_LIST_ERROR_REASONS:
            self.hash_list_errors.labels(list_name, reason)

    def hash_list_malformed_lines(self, list_name: str, count: int) -> None:
        self.hash_list_malformed.labels(list_name).set(count)

    def hash_list_error(self, list_name: str, reason: str) -> None:
        self.hash_list_errors.labels(list_name, reason).inc()
        self.hash_list_stale.labels(list_name).set(1)

    def known_content_banks(self, banks: Mapping[str, tuple[str, bool]],
                            quarantined: Callable[[], Mapping[str, int]]) -> None:
        """Each bank (name -> (action, enabled)); counters start at 0 so a first match shows
        in rate(); `quarantined` is read at scrape time (entries in flood quarantine)."""
        for bank, (action, enabled) in banks.items():
            self.bank_enabled.labels(bank, action).set(int(enabled))
            if enabled:
                self.bank_matches.labels(bank, action)
                self.bank_demotions.labels(bank)
        self.registry.register(QuarantineCollector(list(banks), quarantined))

    def known_content_match(self, bank: str, action: str) -> None:
        self.bank_matches.labels(bank, action).inc()

    def known_content_suppressed(self, bank: str, allow_bank: str) -> None:
        self.bank_suppressed.labels(bank, allow_bank).inc()

    def known_content_demoted(self, bank: str) -> None:
        self.bank_demotions.labels(bank).inc()

    def catalogues_loaded(self, sizes: dict[str, int]) -> None:
        for catalogue, tracks in sizes.items():
            self.catalogue_tracks.labels(catalogue).set(tracks)

    def statistics(self, stats_json: str) -> None:
        """librdkafka's statistics (stats_cb): consumer lag of each assigned partition."""
        for partition, lag in lag_from_statistics(stats_json, self.topic).items():
            self.lag.labels(str(partition)).set(lag)


def lag_from_statistics(stats_json: str, topic: str) -> dict[int, int]:
    """Per-partition lag from librdkafka statistics; the stored offset counts when not fetching."""
    stats: dict[str, Any] = json.loads(stats_json)
    partitions = stats.get("topics", {}).get(topic, {}).get("partitions", {})
    out: dict[int, int] = {}
    for key, part in partitions.items():
        partition = int(key)
        if partition < 0:  # librdkafka's internal UA partition
            continue
        lag = part.get("consumer_lag", -1)
        if lag < 0:
            lag = part.get("consumer_lag_stored", -1)
        if lag >= 0:
            out[partition] = int(lag)
    return out


class WorkerPoolCollector(Collector):
    """Decode worker restarts and queue depth, read from the pool when scraped."""

    def __init__(self, restarts: Callable[[], int], pending: Callable[[], int]) -> None:
        self._restarts = restarts
        self._pending = pending

    def collect(self) -> Iterator[Any]:
        restarts = CounterMetricFamily("consumer_decode_worker_restarts",
                                       "Decode workers replaced after a crash, kill or timeout")
        restarts.add_metric([], self._restarts())
        yield restarts
        queued = GaugeMetricFamily("consumer_decode_queue_videos",
                                   "Videos waiting for a decode worker")
        queued.add_metric([], self._pending())
        yield queued


class QuarantineCollector(Collector):
    """Known-content entries in flood quarantine now, per bank, read when scraped (entries
    leave quarantine as time passes, with no event to update a gauge)."""

    def __init__(self, banks: list[str], quarantined: Callable[[], Mapping[str, int]]) -> None:
        self._banks = banks
        self._quarantined = quarantined

    def collect(self) -> Iterator[Any]:
        gauge = GaugeMetricFamily("consumer_known_content_quarantined_entries",
                                  "Known-content bank entries in flood quarantine (their block "
                                  "is demoted to review), by bank", labels=["bank"])
        counts = self._quarantined()
        for bank in sorted({*self._banks, *counts}):
            gauge.add_metric([bank], counts.get(bank, 0))
        yield gauge
