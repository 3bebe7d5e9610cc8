"""`vmc calibrate --target-precision 0.95`: per-category thresholds reviewers would confirm.

Reads the decisions consumer's state file (`review.state_path`), takes each decided verdict
by its latest decision, and prints, per category, the lowest threshold whose precision
reaches the target (most recall at that precision) next to the served thresholds' precision.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from consumer.cli import UserError
from consumer.settings import Settings


def _ratio(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _calibrate(args: argparse.Namespace, settings: Settings) -> int:
    from consumer.cli.decisions import thresholds
    from consumer.review.calibration import at_threshold, categories_of, latest_per_verdict, suggest
    from consumer.review.state import StateStore

    path = args.state or settings.review.state_path
    if not Path(path).is_file():
        raise UserError(f"no state file at {path}: run `vmc decisions` (review.state_path)")
    store = StateStore(path)
    try:
        items = latest_per_verdict(store.decisions())
    finally:
        store.close()
    served = thresholds(settings)
    print(f"{len(items)} decided verdicts; target precision {args.target_precision:g}")
    print(f"{'category':<16} {'served':>14} {'precision':>9} {'suggested':>9} "
          f"{'precision':>9} {'recall':>7} {'support':>7}")
    for category in sorted(set(categories_of(items)) | set(served)):
        rules = served.get(category, {})
        block = rules.get("block")
        now = at_threshold(items, category, block) if block is not None else None
        tip = suggest(items, category, args.target_precision, min_support=args.min_support)
        print(f"{category:<16} {'block ' + _fmt(block):>14} "
              f"{_fmt(now.precision if now else None):>9} {_fmt(tip.threshold):>9} "
              f"{_fmt(tip.precision):>9} {_fmt(tip.recall):>7} {tip.support:>7}")
    return 0


def register(commands: Any) -> None:
    calibrate = commands.add_parser(
        "calibrate", help="suggest per-category thresholds from reviewers' decisions",
        description="From the decisions consumer's state file: per category, the served block "
        "threshold's precision against reviewers, and the lowest threshold reaching "
        "--target-precision with at least --min-support decided verdicts above it.")
    calibrate.add_argument("--target-precision", type=_ratio, default=0.95)
    calibrate.add_argument("--min-support", type=int, default=5,
                           help="decided verdicts at or above a suggested threshold (default 5)")
    calibrate.add_argument("--state", metavar="FILE", help="state file (review.state_path)")
    calibrate.set_defaults(handler=_calibrate)
