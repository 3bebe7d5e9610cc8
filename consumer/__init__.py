"""Streaming moderation consumer for newly uploaded video."""

__version__ = "0.1.0"
