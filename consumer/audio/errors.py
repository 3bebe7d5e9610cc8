"""Why music matching cannot run: a missing native library, or a catalogue file that is not one."""

from __future__ import annotations

from consumer.errors import ConsumerError
from consumer.settings import ConfigError


class ChromaprintUnavailable(ConfigError):
    """libchromaprint.so.1 cannot be loaded: a deployment problem, so start-up stops."""


class FingerprintError(ConsumerError):
    """Chromaprint refused the audio it was given (a bad sample rate, an internal failure)."""


class CatalogueError(ConsumerError):
    """A catalogue file is missing, corrupt, foreign, or from an unknown format version."""
