"""Upload events: the input contract, parsed and validated before any work starts."""

from consumer.events.source import SourceRef
from consumer.events.upload import InvalidEvent, UploadEvent, parse_upload_event

__all__ = ["InvalidEvent", "SourceRef", "UploadEvent", "parse_upload_event"]
