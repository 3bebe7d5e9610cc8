"""`vmc`: the command line of the video moderation consumer.

Each subcommand lives in its own module with a `register(commands)` that adds its parser and
sets `handler` (and `decodes_video=True` when it decodes video). Every handler gets the
settings, built once here (env `VMC_*`, `--config FILE` or `VMC_CONFIG`). Whatever a
subcommand raises ends in `main`, which turns it into one line on stderr and an exit code
(`consumer.cli.errors`).
"""

from __future__ import annotations

import argparse
import importlib
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

from consumer.cli.errors import EXIT_CODES, SettingsError, UserError, exit_code
from consumer.errors import ConfigError
from consumer.settings import load_settings

if TYPE_CHECKING:
    from consumer.settings import Settings

__all__ = ["UserError", "build_parser", "main"]

# Subcommand modules, in the order `vmc --help` lists them.
_COMMAND_MODULES = (
    "consumer.cli.info",
    "consumer.cli.run",
    "consumer.cli.scan",
    "consumer.cli.replay",
    "consumer.cli.backtest",
    "consumer.cli.offsets",
    "consumer.cli.dev",
    "consumer.cli.keyframes",
    "consumer.cli.catalogue",
    "consumer.cli.bank",
    "consumer.cli.decisions",
    "consumer.cli.calibrate",
)


def _epilog() -> str:
    config = textwrap.fill(
        "Configuration: VMC_* environment variables (nested with '__', e.g. "
        "VMC_KAFKA__BOOTSTRAP_SERVERS) override a TOML file given by --config or VMC_CONFIG.",
        width=88)
    codes = "\n".join(textwrap.fill(text, width=88, initial_indent=f"  {int(code):<4}",
                                    subsequent_indent=" " * 6)
                      for code, text in EXIT_CODES.items())
    return f"{config}\n\nExit codes (errors: one line on stderr, 'vmc: ...'):\n{codes}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vmc",
        description="Streaming moderation consumer for newly uploaded video: Kafka upload "
        "events -> keyframes -> Triton -> verdicts and tags.",
        epilog=_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", metavar="FILE", help="TOML settings file (or VMC_CONFIG)")
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="override log.level (DEBUG also prints the traceback of a bug)")
    parser.add_argument("--log-format", choices=["json", "text"], help="override log.format")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(commands)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    """The settings, with the command line's log overrides; logging configured from them."""
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        raise SettingsError(str(exc)) from exc
    overrides = {"level": args.log_level, "format": args.log_format}
    settings.log = settings.log.model_copy(update={k: v for k, v in overrides.items() if v})
    from consumer.logs import configure_logging

    configure_logging(settings.log)
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; every error it raises ends here as one line and an exit code."""
    args = build_parser().parse_args(argv)
    debug = args.log_level == "DEBUG"
    try:
        settings = _settings(args)
        debug = settings.log.level == "DEBUG"
        if getattr(args, "decodes_video", False):
            # gpu.decode=nvdec on a machine without NVDEC stops a command that decodes video
            # here, before it asks a broker, builds a model or starts the stack.
            from consumer.assembly import check_decoder

            check_decoder(settings)
        code: int = args.handler(args, settings)
    except (Exception, KeyboardInterrupt) as exc:
        return exit_code(exc, debug=debug)
    return code
