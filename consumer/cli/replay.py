"""`vmc replay`: reprocess a time range of the upload topic with the live pipeline's code."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime
from typing import Any

from consumer.cli import UserError
from consumer.cli.run import run_pipeline
from consumer.settings import Settings

RUN_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def parse_time(text: str) -> int:
    """ISO 8601 (a naive time is UTC) -> epoch milliseconds."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _partitions(text: str) -> list[int]:
    try:
        return sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"partitions are numbers like 0,3: {text!r}") from exc


def _rate(text: str) -> float:
    value = float(text.removesuffix("/s"))
    if value <= 0:
        raise argparse.ArgumentTypeError("rate must be positive")
    return value


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    from consumer.pipeline.replay import ReplayProgress, plan_replay, replay_group

    if not RUN_ID.match(args.run_id) or args.run_id == "live":
        raise UserError("--run-id: 1-64 of A-Z a-z 0-9 . _ -, and not 'live'")
    if args.to is not None and args.to <= args.from_:
        raise UserError("--to must be after --from")
    topics = settings.kafka.topics.model_copy(update={
        k: v for k, v in (("verdicts", args.verdicts_topic), ("tags", args.tags_topic)) if v})
    group = replay_group(settings.kafka.group_id, args.run_id)
    settings.kafka = settings.kafka.model_copy(update={"group_id": group, "topics": topics})
    settings.pipeline = settings.pipeline.model_copy(update={"run_id": args.run_id})
    plan = plan_replay(settings.kafka, topics.input, group, from_ms=args.from_,
                       to_ms=args.to, partitions=args.partitions)
    print(f"replay {args.run_id}: group {group}, {topics.input} -> {topics.verdicts}, "
          f"{topics.tags}")
    print(f"{'partition':>9} {'start':>10} {'end':>10} {'events':>8}")
    for part in plan.partitions:
        note = "  (resumed)" if part.resumed else ""
        print(f"{part.partition:>9} {part.start:>10} {part.end:>10} {part.count:>8}{note}")
    print(f"{'total':>9} {'':>10} {'':>10} {plan.total:>8}", flush=True)
    if args.dry_run:
        return 0
    return run_pipeline(settings, hooks=ReplayProgress(plan.total), window=plan.window(),
                        max_events_per_s=args.rate)


def register(commands: Any) -> None:
    replay = commands.add_parser(
        "replay", help="reprocess a time range of the upload topic (new model or policy)",
        description="Runs the same pipeline as `vmc run` over the events stamped in "
        "[--from, --to) and stops by itself at the end fixed when it starts. Its consumer "
        "group is '<kafka.group_id>.replay.<run id>', so the live group is untouched; run it "
        "again with the same --run-id to continue where it stopped. Outputs carry the run id "
        "(in the value and the vmc.run_id header).",
    )
    replay.add_argument("--from", dest="from_", required=True, type=parse_time,
                        metavar="ISO_TIME", help="first upload time to reprocess (inclusive)")
    replay.add_argument("--to", type=parse_time, metavar="ISO_TIME",
                        help="end (exclusive); default: everything there when the run starts")
    replay.add_argument("--partitions", type=_partitions, metavar="0,3",
                        help="only these input partitions")
    replay.add_argument("--run-id", required=True, help="names the run and its consumer group")
    replay.add_argument("--verdicts-topic", metavar="T", help="shadow topic for verdicts")
    replay.add_argument("--tags-topic", metavar="T", help="shadow topic for tags")
    replay.add_argument("--rate", type=_rate, metavar="N/s",
                        help="at most N events per second, to spare live traffic")
    replay.add_argument("--dry-run", action="store_true",
                        help="print start/end offsets and event counts per partition, no work")
    replay.set_defaults(handler=_replay, decodes_video=True)
