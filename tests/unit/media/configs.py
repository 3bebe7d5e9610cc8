"""`decode_config(max_keyframes=4, threads=1, ...)`: a DecodeConfig from fields of any of its
groups, named as in the settings (`count`, `mode`, `decode`, `id` are workers.count,
sampling.mode, gpu.decode, gpu.id), so a test names only what it changes."""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import BaseModel

from consumer.media.config import DecodeConfig


def decode_config(**fields: Any) -> DecodeConfig:
    groups: dict[str, Any] = {}
    own: dict[str, Any] = {}
    for part in dataclasses.fields(DecodeConfig):
        default = part.default_factory() if callable(part.default_factory) else part.default
        if isinstance(default, BaseModel):
            update = {k: fields.pop(k) for k in list(fields) if k in type(default).model_fields}
            groups[part.name] = type(default)(**{**default.model_dump(), **update})
        elif part.name in fields:
            own[part.name] = fields.pop(part.name)
    if fields:
        raise TypeError(f"no DecodeConfig field named {', '.join(fields)}")
    return DecodeConfig(**groups, **own)
