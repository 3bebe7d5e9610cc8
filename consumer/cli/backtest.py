"""`vmc backtest`: re-decide recorded evidence (the signals topic) under a draft policy.

No decode and no inference: each signals record is restored and re-decided by the same
`assess` as `vmc run`, under the deployment's settings with the draft merged over them. Prints
the diff (verdict counts old -> new with sample videos, reasons added and removed, records
skipped and why) and, with a decisions topic, precision and recall of old and draft against
reviewers' latest decisions; `--publish` writes the re-decided verdicts to a topic.
"""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from consumer.cli import UserError
from consumer.cli.replay import RUN_ID, _partitions, parse_time
from consumer.settings import Settings

log = logging.getLogger("consumer.backtest")


def _backtest(args: argparse.Namespace, settings: Settings) -> int:
    from consumer.backtest.draft import load_draft
    from consumer.backtest.publish import Rescore
    from consumer.backtest.reader import latest_decisions, plan, read
    from consumer.backtest.redecide import Redecider
    from consumer.backtest.report import Report, render
    from consumer.backtest.restore import BadRecord, parse, restore

    if args.to is not None and args.from_ is not None and args.to <= args.from_:
        raise UserError("--to must be after --from")
    if not RUN_ID.match(args.run_id) or args.run_id == "live":
        raise UserError("--run-id: 1-64 of A-Z a-z 0-9 . _ -, and not 'live'")
    draft = load_draft(settings, args.policy)
    if args.publish and draft.policy.version == settings.policy.version:
        raise UserError("--publish: give the draft its own [policy] version (the rescored "
                        "verdicts carry it, and their ids follow from it)")
    redecide = Redecider(draft)
    topic = args.signals_topic or settings.kafka.topics.signals
    ranges = plan(settings.kafka, topic, from_ms=args.from_ or 0, to_ms=args.to,
                  partitions=args.partitions)
    rescore = Rescore(draft, args.publish, args.run_id) if args.publish else None
    report = Report(samples=args.samples)
    for item in read(settings.kafka, topic, ranges):
        try:
            record = parse(item.value)
            decision = redecide(restore(record))
        except BadRecord as exc:
            log.warning("%s[%d]@%d skipped: %s", topic, item.partition, item.offset, exc)
            report.skip(exc.reason)
            continue
        report.add(record["video_id"], record, decision)
        if rescore is not None:
            rescore.publish(record, decision)
    decisions = latest_decisions(settings.kafka, args.decisions_topic) \
        if args.decisions_topic else None
    summary = report.summary(decisions)
    if rescore is not None:
        summary["published"] = {"topic": args.publish, "verdicts": rescore.close(),
                                "policy_version": draft.policy.version}
    print(json.dumps(summary) if args.json else render(summary))
    return 0


def register(commands: Any) -> None:
    backtest = commands.add_parser(
        "backtest", help="re-decide recorded evidence under a draft policy (no decode, no "
        "inference)",
        description="Reads the signals topic (every verdict's evidence) over [--from, --to) "
        "and re-decides each video under the deployment's settings with --policy merged over "
        "them ([policy], [signals.<name>] sections). Prints old -> new verdict counts with "
        "sample videos and the reasons that changed; with --decisions-topic, precision and "
        "recall of old and draft against reviewers' latest decisions. Joins no consumer group "
        "and commits nothing.")
    backtest.add_argument("--policy", required=True, metavar="DRAFT.toml",
                          help="the draft: settings sections merged over the deployment's")
    backtest.add_argument("--from", dest="from_", type=parse_time, metavar="ISO_TIME",
                          help="first verdict time to re-decide (default: the beginning)")
    backtest.add_argument("--to", type=parse_time, metavar="ISO_TIME",
                          help="end (exclusive); default: everything there at the start")
    backtest.add_argument("--partitions", type=_partitions, metavar="0,3",
                          help="only these partitions of the signals topic")
    backtest.add_argument("--signals-topic", metavar="T",
                          help="default: kafka.topics.signals")
    backtest.add_argument("--decisions-topic", metavar="T",
                          help="reviewers' decisions, for precision and recall")
    backtest.add_argument("--publish", metavar="TOPIC",
                          help="write the re-decided verdicts there (a rescore)")
    backtest.add_argument("--run-id", default="backtest",
                          help="the run id of published verdicts (default: backtest)")
    backtest.add_argument("--samples", type=int, default=5, metavar="N",
                          help="sample video ids per old -> new cell")
    backtest.add_argument("--json", action="store_true", help="print the report as JSON")
    backtest.set_defaults(handler=_backtest)
