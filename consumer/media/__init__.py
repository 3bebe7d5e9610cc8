"""Media: from an event's URI to resized keyframes, safely (sources, probe, sampler, workers)."""

from consumer.media.errors import (
    CorruptMedia,
    DecodeCrashed,
    DecodeFailed,
    DecodeOutOfMemory,
    DecodeTimeout,
    ExtractorClosed,
    ExtractorQueueFull,
    FrameTooLarge,
    MediaRejected,
    MediaTooLarge,
    MediaTooLong,
    NoVideoStream,
    SourceRefused,
    SourceTimeout,
    SourceUnreachable,
    TooManyStreams,
    UnsupportedContainer,
)
from consumer.media.extract import Keyframes, extract_keyframes
from consumer.media.probe import VideoProbe
from consumer.media.resize import ResizeSpec
from consumer.media.workers import KeyframeExtractor

__all__ = [
    "CorruptMedia",
    "DecodeCrashed",
    "DecodeFailed",
    "DecodeOutOfMemory",
    "DecodeTimeout",
    "ExtractorClosed",
    "ExtractorQueueFull",
    "FrameTooLarge",
    "KeyframeExtractor",
    "Keyframes",
    "MediaRejected",
    "MediaTooLarge",
    "MediaTooLong",
    "NoVideoStream",
    "ResizeSpec",
    "SourceRefused",
    "SourceTimeout",
    "SourceUnreachable",
    "TooManyStreams",
    "UnsupportedContainer",
    "VideoProbe",
    "extract_keyframes",
]
