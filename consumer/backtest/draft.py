"""A draft policy: a TOML file of settings sections (`[policy]`, `[signals.scores]`,
`[signals.known_content]`, ...) merged over the deployment's settings, validated the same way.

Tables merge key by key over each section as validated (its defaults filled in); anything
else (a number, a list such as a bank list) replaces the deployment's value whole. Only the
sections that decide may be drafted (`policy`, `signals`): a draft that would change the
broker, the models or decoding is refused, since a backtest re-decides recorded evidence and
cannot change how it was gathered.
"""

from __future__ import annotations

import contextlib
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from consumer.errors import ConfigError
from consumer.settings import Settings

DRAFTABLE = frozenset({"policy", "signals"})


def merged(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def apply_draft(settings: Settings, draft: Mapping[str, Any]) -> Settings:
    """The deployment's settings with the draft merged over them (`ConfigError` if invalid)."""
    other = sorted(set(draft) - DRAFTABLE)
    if other:
        raise ConfigError(f"a draft policy holds only {sorted(DRAFTABLE)} sections, not "
                          f"{other}")
    base = {"policy": settings.policy.model_dump(), "signals": _sections(settings)}
    data = merged(base, draft)
    try:
        policy = type(settings.policy).model_validate(data["policy"])
        signals = type(settings.signals).model_validate(data["signals"])
    except ValidationError as exc:
        raise ConfigError(f"invalid draft policy: {exc}") from None
    return settings.model_copy(update={"policy": policy, "signals": signals})


def _sections(settings: Settings) -> dict[str, Any]:
    """Every signal's section as validated (defaults filled in), so a draft that names one
    threshold keeps the others: `review = 0.4` alone does not drop the default block."""
    from consumer.signals import registry

    out = dict(settings.signals.model_extra or {})
    for cls in registry():
        with contextlib.suppress(ValidationError):  # else as given: building it says why
            out[cls.name] = cls.settings_model.model_validate(
                settings.signals.raw(cls.name)).model_dump()
    return out


def load_draft(settings: Settings, path: str | Path) -> Settings:
    try:
        draft = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"draft policy {path}: {exc}") from None
    return apply_draft(settings, draft)
