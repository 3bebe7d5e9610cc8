"""Every event's outcome, decided in one place: a verdict with its tags, or a failure turned
into a DLQ copy of the original bytes plus one `unprocessable` verdict when the event names a
video. Whatever one event's step raises (a malformed event, bad media, a bug met by one video)
ends here, never in the process's exit, and an event is published at most once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from consumer.errors import MediaError, ModelBudgetExceeded
from consumer.events import InvalidEvent
from consumer.pipeline.delivery import Delivery
from consumer.pipeline.hooks import PipelineHooks
from consumer.pipeline.jobs import VideoJob
from consumer.pipeline.judge import Judge, Judged
from consumer.policy.decide import failed
from consumer.publishing.outputs import OutputRecords, Record
from consumer.review.records import ReviewTasks

log = logging.getLogger("consumer.pipeline")


class Outcomes:
    """Turns finished or failed jobs into records and hands them to delivery, once."""

    def __init__(self, outputs: OutputRecords, delivery: Delivery, hooks: PipelineHooks,
                 judge: Judge, review: ReviewTasks | None = None) -> None:
        self.outputs = outputs
        self.review = review
        self.delivery = delivery
        self.hooks = hooks
        self.judge = judge

    def guarded(self, job: VideoJob, stage: str, action: Callable[[VideoJob], None]) -> None:
        """Run one event's step; whatever it raises is that event's outcome, not ours."""
        try:
            action(job)
        except Exception as exc:
            self.reject(job, stage, exc)

    def finish(self, job: VideoJob) -> None:
        """Every signal over the video's evidence -> verdict and tags, published together."""
        assert job.keyframes is not None and job.event is not None
        assert job.matches is not None
        judged = self.judge(job.source, job.event.video_id, job.keyframes, scores=job.scores,
                            texts=job.texts, versions=job.versions, matches=job.matches,
                            embeddings=job.embeddings,
                            uploaded_at=job.event.uploaded_at,
                            inference_error=None if job.inference_error is None
                            else str(job.inference_error), given_up=job.given_up)
        records = [judged.verdict, judged.tags, *judged.own, *self._review_task(job, judged),
                   *self._given_up_letter(job)]
        records.append(judged.signals)
        self._publish(job, records, verdict=(judged.assessment.decision.verdict,
                                             judged.content["latency_s"]))

    def _review_task(self, job: VideoJob, judged: Judged) -> list[Record]:
        """A task for people when the verdict asks for them (or is in the audit sample)."""
        if self.review is None:
            return []
        assert job.event is not None and job.keyframes is not None
        task = self.review.record(judged.content, judged.tags,
                                  frames_at_s=job.keyframes.pts_s,
                                  uploaded_at=job.event.uploaded_at)
        if task is None:
            return []
        self.hooks.review_task(json.loads(task.value)["sampled"])
        return [task]

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
        decision = failed(reason, exc)
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
