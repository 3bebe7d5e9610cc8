"""`vmc offsets show | reset`: committed offsets, lag, and resetting the live group."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from consumer.cli import UserError
from consumer.cli.replay import parse_time
from consumer.pipeline import group_offsets
from consumer.settings import Settings


def _show(args: argparse.Namespace, settings: Settings) -> int:
    group = args.group or settings.kafka.group_id
    topic = settings.kafka.topics.input
    rows = group_offsets.positions(settings.kafka, group, topic)
    print(f"group {group} on {topic}")
    print(f"{'partition':>9} {'committed':>10} {'end':>10} {'lag':>8}")
    for row in rows:
        committed = "-" if row.committed is None else str(row.committed)
        print(f"{row.partition:>9} {committed:>10} {row.end:>10} {row.lag:>8}")
    print(f"{'total':>9} {'':>10} {'':>10} {sum(r.lag for r in rows):>8}")
    return 0


def _reset(args: argparse.Namespace, settings: Settings) -> int:
    group = args.group or settings.kafka.group_id
    topic = settings.kafka.topics.input
    try:
        parse_time(args.to_datetime)
    except argparse.ArgumentTypeError as exc:
        raise UserError(f"--to-datetime: {exc}") from exc
    members = group_offsets.active_members(settings.kafka, group)
    if members:
        raise UserError(f"group {group} has {members} active member(s): stop its consumers "
                        "first (offsets of a live group cannot be reset)")
    current = {r.partition: r.committed
               for r in group_offsets.positions(settings.kafka, group, topic)}
    target = group_offsets.offsets_at(settings.kafka, topic, sorted(current),
                                      parse_time(args.to_datetime))
    print(f"reset group {group} on {topic} to {args.to_datetime}:")
    for partition, offset in sorted(target.items()):
        before = current[partition]
        print(f"  partition {partition}: {'-' if before is None else before} -> {offset}")
    if not args.yes:
        if not sys.stdin.isatty():
            raise UserError("not a terminal: pass --yes to confirm the reset")
        if input("proceed? [y/N] ").strip().lower() not in ("y", "yes"):
            print("nothing changed")
            return 1
    group_offsets.reset(settings.kafka, group, topic, target)
    print("done")
    return 0


def register(commands: Any) -> None:
    offsets = commands.add_parser("offsets", help="committed offsets, lag; reset a group")
    sub = offsets.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
    show = sub.add_parser("show", help="committed offset, end offset and lag per partition")
    show.add_argument("--group", help="default: kafka.group_id (the live group)")
    show.set_defaults(handler=_show)
    reset = sub.add_parser("reset", help="move a group's offsets to a point in time; refused "
                           "while the group has active members")
    reset.add_argument("--to-datetime", required=True, metavar="ISO_TIME",
                       help="first upload time to consume again (naive times are UTC)")
    reset.add_argument("--group", help="default: kafka.group_id (the live group)")
    reset.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    reset.set_defaults(handler=_reset)
