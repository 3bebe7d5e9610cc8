"""`vmc`: the command line of the video moderation consumer.

Each subcommand lives in its own module with a `register(commands)` that adds its parser and
sets `handler`. Every handler gets the settings, built once here (env `VMC_*`, `--config FILE`
or `VMC_CONFIG`). Errors a user can fix end with a one-line message and a non-zero exit.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from consumer.errors import ConfigError
from consumer.settings import load_settings

# Subcommand modules, in the order `vmc --help` lists them.
_COMMAND_MODULES = (
    "consumer.cli.info",
    "consumer.cli.run",
    "consumer.cli.scan",
    "consumer.cli.replay",
    "consumer.cli.offsets",
    "consumer.cli.dev",
    "consumer.cli.keyframes",
    "consumer.cli.catalogue",
)


class UserError(Exception):
    """A problem the user can fix: printed as one line, exit status 1, no traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vmc",
        description="Streaming moderation consumer for newly uploaded video: Kafka upload "
        "events -> keyframes -> Triton -> verdicts and tags.",
        epilog="Configuration: VMC_* environment variables (nested with '__', e.g. "
        "VMC_KAFKA__BOOTSTRAP_SERVERS) override a TOML file given by --config or VMC_CONFIG.",
    )
    parser.add_argument("--config", metavar="FILE", help="TOML settings file (or VMC_CONFIG)")
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="override log.level")
    parser.add_argument("--log-format", choices=["json", "text"], help="override log.format")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"vmc: {exc}", file=sys.stderr)
        return 2
    overrides = {"level": args.log_level, "format": args.log_format}
    settings.log = settings.log.model_copy(update={k: v for k, v in overrides.items() if v})
    from consumer.logs import configure_logging

    configure_logging(settings.log)
    try:
        code: int = args.handler(args, settings)
    except UserError as exc:
        print(f"vmc: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code
