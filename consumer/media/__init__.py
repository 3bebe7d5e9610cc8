"""Media: from an event's URI to resized keyframes, safely (sources, probe, sampler, workers)."""

from consumer.errors import (
    CorruptMedia,
    DecodeCrashed,
    DecodeFailed,
    DecodeOutOfMemory,
    DecodeTimeout,
    ExtractorClosed,
    ExtractorQueueFull,
    FrameTooLarge,
    MediaTooLarge,
    MediaTooLong,
    NoKeyframes,
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
    "MediaTooLarge",
    "MediaTooLong",
    "NoKeyframes",
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
