"""Secrets of the local stack (a SCRAM password, an S3 secret key): made once, random, kept in a
0600 file of the state folder, and read from there; never printed, never on a command line."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def ensure_secret(path: Path, nbytes: int = 24) -> str:
    """The secret in `path`, created (0600, in a 0700 folder) when missing; never rewritten."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(nbytes) + "\n")
    return path.read_text().strip()
