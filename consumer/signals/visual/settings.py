"""`signals.visual`: which served model tags what is in the picture, and how much of it is kept."""

from __future__ import annotations

from pydantic import Field

from consumer.signals.base import SignalSettings


class VisualSettings(SignalSettings):
    """Labels kept in the tags record and whether each video's embedding is published."""

    model: str = Field("visual_tagger", description="the served classifier whose classes and "
                       "embedding describe the picture (active when in pipeline.models)")
    min_score: float = Field(0.2, gt=0, le=1, description="least score, on some frame, for a "
                             "class or a coarse word to become a visual tag")
    max_labels: int = Field(10, ge=1, le=100, description="most visual labels kept per video "
                            "(highest peak score first)")
    embeddings: bool = Field(True, description="publish each video's mean embedding on the "
                             "embeddings topic")
