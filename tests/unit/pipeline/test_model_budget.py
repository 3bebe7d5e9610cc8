"""A video whose rows cost Triton more than the timeout is that video's problem, not an
outage: told apart by Triton being seen alive, isolated, given up after its attempts."""

from __future__ import annotations

from tests.unit.pipeline.fake_kafka import TOPIC
from tests.unit.pipeline.fakes import rig


def test_a_video_that_times_out_while_triton_answers_is_given_up_and_the_others_get_theirs(
) -> None:
    r = rig(partitions=1, batch_max_size=16)
    r.model.slow = True
    r.broker.event("before")
    r.broker.event("slow", "https://videos.example/slow.mp4")
    r.broker.event("after", "https://videos.example/nsfw.mp4")
    r.until(r.settled)
    assert r.broker.verdicts() == {"before": ["allow"], "slow": ["review"], "after": ["block"]}
    slow = next(v.json() for v in r.broker.on("verdicts") if v.json()["video_id"] == "slow")
    reason = slow["reasons"][0]
    assert reason["category"] == "model_budget_exceeded" and reason["action"] == "review"
    assert "2 times" in reason["detail"]
    letters = r.broker.on("dlq")
    assert [d.header("vmc.error.reason") for d in letters] == [b"model_budget_exceeded"]
    assert letters[0].header("vmc.stage") == b"inference" and letters[0].key == b"slow"
    assert "OPEN" not in r.hooks.breaker_states, "a slow video is not an outage"
    assert ("inference", "timeout") in r.hooks.failures
    assert ("inference", "unavailable") not in r.hooks.failures
    assert r.broker.committed == {(TOPIC, 0): 3}
    # One mixed batch timed out; then each video alone, the slow one twice in all.
    assert r.model.requests[0] == 9 and r.model.requests[1:] == [3, 3, 3]


def test_timeouts_while_triton_is_not_alive_are_an_outage_and_decide_nothing() -> None:
    r = rig(partitions=1)
    r.model.slow, r.model.alive = True, False
    r.broker.event("slow", "https://videos.example/slow.mp4")
    r.until(lambda: r.hooks.breaker_states[-1:] == ["OPEN"])
    for _ in range(50):
        r.pipeline.step()
    assert not r.broker.outputs and r.broker.committed == {}, "no verdict during an outage"
    assert ("inference", "unavailable") in r.hooks.failures
    assert ("inference", "timeout") not in r.hooks.failures
    r.model.alive = True  # Triton is back, and the video is still too slow for it
    r.until(r.settled, steps=20000)
    assert r.broker.verdicts() == {"slow": ["review"]}


def test_a_model_that_gave_up_leaves_its_policy_categories_unscored_which_fails_closed(
) -> None:
    r = rig(partitions=1)
    r.pipeline.batches.video_attempts = 1
    r.model.slow = True
    r.broker.event("slow", "https://videos.example/slow.mp4")
    r.until(r.settled)
    verdict = r.broker.on("verdicts")[0].json()
    assert verdict["verdict"] == "review"
    assert [x["category"] for x in verdict["reasons"]] == ["model_budget_exceeded",
                                                           "invalid_model_output"]
