"""Every event's outcome, decided in one place: a verdict with its tags, or a failure turned
into a DLQ copy of the original bytes plus one `unprocessable` verdict when the event names a
video. Whatever one event's step raises (a malformed event, bad media, a bug met by one video)
ends here, never in the process's exit, and an event is published at most once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from consumer.errors import MediaError, ModelBudgetExceeded
from consumer.events import InvalidEvent
from consumer.models.specs import ModelSpec
from consumer.pipeline.delivery import Delivery
from consumer.pipeline.hooks import PipelineHooks
from consumer.pipeline.jobs import VideoJob
from consumer.pipeline.matching import Matches, SignalRules
from consumer.policy.assess import assess
from consumer.policy.decide import unprocessable
from consumer.publishing.outputs import OutputRecords, Record
from consumer.settings import PolicySettings

log = logging.getLogger("consumer.pipeline")


class Outcomes:
    """Turns finished or failed jobs into records and hands them to delivery, once."""

    def __init__(self, outputs: OutputRecords, delivery: Delivery, hooks: PipelineHooks, *,
                 specs: Mapping[str, ModelSpec], policy: PolicySettings,
                 rules: SignalRules | None = None) -> None:
        self.outputs = outputs
        self.delivery = delivery
        self.hooks = hooks
        self.specs = specs
        self.policy = policy
        self.rules = rules or SignalRules()

    def guarded(self, job: VideoJob, stage: str, action: Callable[[VideoJob], None]) -> None:
        """Run one event's step; whatever it raises is that event's outcome, not ours."""
        try:
            action(job)
        except Exception as exc:
            self.reject(job, stage, exc)

    def finish(self, job: VideoJob) -> None:
        """Policy over every model's scores -> verdict and tags, published together."""
        assert job.keyframes is not None and job.event is not None
        matches = self._matches(job)
        result = assess(job.keyframes, job.scores, self.specs, self.policy,
                        inference_error=None if job.inference_error is None
                        else str(job.inference_error), known=matches.known, texts=job.texts,
                        text_rules=self.rules.text_rules, music=matches.music,
                        given_up=job.given_up,
                        music_enforced=self.rules.music is not None and self.rules.music.enforcing)
        for match in result.text_matches:
            self.hooks.text_match(match.rule)
        coverage = job.keyframes.coverage.as_json() if job.keyframes.coverage else None
        verdict, content = self.outputs.verdict(
            job.source, job.event.video_id, result.decision, versions=job.versions,
            uploaded_at=job.event.uploaded_at, keyframes_analyzed=len(job.keyframes.pts_s),
            duration_s=job.keyframes.probe.duration_s, coverage=coverage)
        tags = self.outputs.tags(job.source, content, labels=result.labels,
                                 technical=result.technical, coverage=coverage,
                                 frames=result.frames, text=result.text,
                                 music=result.music)
        records = [verdict, tags, *self._given_up_letter(job)]
        self._publish(job, records, verdict=(result.decision.verdict, content["latency_s"]))

    def _given_up_letter(self, job: VideoJob) -> list[Record]:
        """A DLQ copy of an event a model gave up on, to replay it with a larger budget."""
        if not job.given_up:
            return []
        assert job.event is not None
        self.hooks.dead_letter("inference")
        error = ModelBudgetExceeded("; ".join(job.given_up.values()))
        letter, job.dead_letter_headers = self.outputs.dead_letter(
            job.source, job.value, job.headers, stage="inference", error=error,
            reason=error.reason, video_id=job.event.video_id)
        return [letter]

    def _matches(self, job: VideoJob) -> Matches:
        """The video's matches (made off the loop, see `matching`), reported to the hooks."""
        assert job.keyframes is not None and job.matches is not None
        if job.keyframes.hashes:
            self.hooks.signal_time("pdq", job.keyframes.hash_s)
        if job.keyframes.audio not in ("off", "none"):  # a soundtrack was decoded
            self.hooks.signal_time("audio", job.keyframes.audio_s)
        for signal, seconds in job.matches.seconds.items():
            self.hooks.signal_time(signal, seconds)
        for known in job.matches.known:
            self.hooks.hash_match(known.list_name)
        for music in job.matches.music:
            self.hooks.music_match(music.catalogue)
        return job.matches

    def reject(self, job: VideoJob, stage: str, exc: BaseException) -> None:
        """A failure becomes this event's outcome: a DLQ copy of the original bytes, plus an
        `unprocessable` verdict when the event names a video."""
        video_id = job.event.video_id if job.event else None
        if isinstance(exc, InvalidEvent):
            reason, video_id = exc.reason, exc.video_id
            self.hooks.event("invalid")
            log.warning("invalid event %s: %s", job.source, exc)
        elif isinstance(exc, MediaError):
            reason = exc.reason
            log.info("unprocessable %s: %s", job.source, exc)
        else:  # a bug, but one event's bug: it must not stop the partition
            reason = "internal_error"
            log.error("%s failed unexpectedly for %s", stage, job.source, exc_info=exc)
        self.hooks.failure(stage, reason)
        if job.published:
            log.error("%s: failure after its outputs were published; none repeated: %s",
                      job.source, exc)
            return
        self.hooks.dead_letter(stage)
        letter, job.dead_letter_headers = self.outputs.dead_letter(
            job.source, job.value, job.headers, stage=stage, error=exc, reason=reason,
            video_id=video_id)
        if len(letter.value) < len(job.value):
            log.warning("%s: DLQ copy truncated to %d of %d bytes", job.source,
                        len(letter.value), len(job.value))
        if video_id is None:
            self._publish(job, [letter])
            return
        decision = unprocessable(reason, f"{type(exc).__name__}: {exc}")
        verdict, content = self.outputs.verdict(
            job.source, video_id, decision, versions={},
            uploaded_at=job.event.uploaded_at if job.event else None,
            keyframes_analyzed=0, duration_s=None)
        self._publish(job, [verdict, letter], verdict=(decision.verdict, content["latency_s"]))

    def _publish(self, job: VideoJob, records: list[Record],
                 verdict: tuple[str, float | None] | None = None) -> None:
        """Hand one event's outputs to delivery, once: a second call is a bug, refused."""
        if job.published:
            log.error("%s: outputs already published; not publishing again", job.source)
            return
        job.published = True
        if verdict is not None:
            self.hooks.verdict(*verdict)
        self.delivery.publish(job, records)
