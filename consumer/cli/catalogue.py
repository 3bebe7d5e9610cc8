"""`vmc catalogue build FOLDER --out FILE`: fingerprint a folder of reference recordings into
the music catalogue the service matches soundtracks against (`signals.music.catalogues`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from consumer.cli import UserError
from consumer.settings import Settings


def _build(args: argparse.Namespace, settings: Settings) -> int:
    from consumer.media.chromaprint import DELAY_S, ITEM_S
    from consumer.signals.music.catalogue import build_catalogue, save_catalogue

    folder = Path(args.folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: not a folder")
    tracks = build_catalogue(folder)  # no libchromaprint1: ChromaprintUnavailable
    if not tracks:
        raise UserError(f"{folder}: no file with a soundtrack to fingerprint")
    save_catalogue(tracks, Path(args.out))
    seconds = sum(track.fingerprint.size * ITEM_S + DELAY_S for track in tracks)
    size = Path(args.out).stat().st_size
    print(f"{args.out}: {len(tracks)} tracks, {seconds / 60:.1f} min of audio, "
          f"{size} bytes ({size / len(tracks) / 1024:.1f} kB per track)")
    return 0


def register(commands: Any) -> None:
    catalogue = commands.add_parser(
        "catalogue", help="build the music catalogue that soundtracks are matched against")
    sub = catalogue.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
    build = sub.add_parser(
        "build", help="fingerprint every audio/video file in FOLDER into one catalogue file",
        description="Fingerprint every audio or video file in FOLDER (track id = file name "
        "without suffix; files without audio, or whose audio carries no information to match "
        "(noise, silence, a steady tone), are skipped with a warning) into one .npz.",
        epilog="Then name it in signals.music.catalogues (VMC_SIGNALS__MUSIC__CATALOGUES).")
    build.add_argument("folder", metavar="FOLDER", help="folder of reference recordings")
    build.add_argument("--out", metavar="PATH", required=True, help="catalogue file to write")
    build.set_defaults(handler=_build)
