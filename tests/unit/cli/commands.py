"""Every subcommand `vmc` registers, read from its parser: tests that must cover each one
enumerate them here, so a new subcommand is covered without editing the tests."""

from __future__ import annotations

import argparse
from collections.abc import Iterator


def subcommand_paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
                     ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """(path, parser) of every subcommand, groups (`dev`) and leaves (`dev up`) alike."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name), sub
                yield from subcommand_paths(sub, (*prefix, name))


def is_leaf(parser: argparse.ArgumentParser) -> bool:
    """A subcommand that runs a handler (not a group of subcommands)."""
    return not any(isinstance(a, argparse._SubParsersAction) for a in parser._actions)


def leaves(parser: argparse.ArgumentParser) -> dict[tuple[str, ...], argparse.ArgumentParser]:
    return {path: sub for path, sub in subcommand_paths(parser) if is_leaf(sub)}


def required_args(parser: argparse.ArgumentParser, samples: dict[str, list[str]]) -> list[str]:
    """A command line that parses: a sample value for each required option and positional.
    A required argument with no sample fails loudly, naming it, so it gets one."""
    argv: list[str] = []
    for action in parser._actions:
        if action.option_strings and not action.required:
            continue
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.dest in samples, (
            f"{parser.prog}: add a sample value for its required argument {action.dest!r}")
        if action.option_strings:
            argv += [action.option_strings[0], *samples[action.dest]]
        else:
            argv += samples[action.dest]
    return argv
