"""`vmc version` and `vmc config show`."""

from __future__ import annotations

import argparse
import json
import sys
from importlib import metadata
from typing import Any

from consumer import __version__
from consumer.settings import Settings


def _version(args: argparse.Namespace, settings: Settings) -> int:
    import av
    import confluent_kafka

    print(json.dumps({
        "vmc": __version__,
        "confluent_kafka": metadata.version("confluent-kafka"),
        "librdkafka": confluent_kafka.libversion()[0],
        "pyav": av.__version__,
        "python": sys.version.split()[0],
    }))
    return 0


def _config_show(args: argparse.Namespace, settings: Settings) -> int:
    """Every section as it takes effect: each signal's section validated, defaults filled."""
    from consumer.cli import UserError
    from consumer.errors import ConfigError
    from consumer.signals import instances

    shown = settings.redacted()
    try:
        shown["signals"] = {signal.name: signal.section.model_dump(mode="json")
                            for signal in instances(settings)}
    except ConfigError as exc:
        raise UserError(str(exc)) from exc
    print(json.dumps(shown, indent=2))
    return 0


def register(commands: Any) -> None:
    version = commands.add_parser("version", help="print versions of vmc and its native libraries")
    version.set_defaults(handler=_version)
    config = commands.add_parser("config", help="inspect the effective configuration")
    sub = config.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
    show = sub.add_parser("show", help="print the effective settings as JSON, secrets masked")
    show.set_defaults(handler=_config_show)
