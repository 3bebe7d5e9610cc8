"""Everything a video is judged by, one signal per module, registered here.

A new signal is one module with a `Signal` subclass (consumer/signals/base.py) and one line in
`BUILT_IN` (or a `register(...)` call, for a plug-in from outside the package). Its settings
section (`signals.<name>`), its reasons, its tags fields, its metrics, `vmc run` and `vmc scan`
all follow from that: the spine iterates the registry and names no signal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from consumer.signals.base import Evidence, Finding, Needs, Opening, Signal, SignalSettings
from consumer.signals.known_content import KnownContent
from consumer.signals.music import Music
from consumer.signals.scores import ModelScores
from consumer.signals.speech import Speech
from consumer.signals.text import OnScreenText
from consumer.signals.visual import VisualTags

if TYPE_CHECKING:
    from consumer.settings import Settings

# Judged in this order; the model scores come first (the decision's base); a signal sees the
# findings of those before it (speech reads music's).
BUILT_IN: tuple[type[Signal], ...] = (ModelScores, KnownContent, OnScreenText, Music,
                                      VisualTags, Speech)

_registered: list[type[Signal]] = list(BUILT_IN)


def register(signal: type[Signal]) -> type[Signal]:
    """Add a signal (once); usable as a class decorator."""
    if any(known.name == signal.name and known is not signal for known in _registered):
        raise ValueError(f"a signal named {signal.name!r} is registered already")
    if signal not in _registered:
        _registered.append(signal)
    return signal


def unregister(signal: type[Signal]) -> None:
    if signal in _registered and signal not in BUILT_IN:
        _registered.remove(signal)


def registry() -> tuple[type[Signal], ...]:
    return tuple(_registered)


def instances(settings: Settings) -> list[Signal]:
    """Every registered signal with its settings section validated, not opened (nothing
    loaded); a section no signal registered, or an invalid one, is a `ConfigError`."""
    from pydantic import ValidationError

    from consumer.errors import ConfigError
    from consumer.settings import env_var_for

    known = {cls.name for cls in _registered}
    unknown = [name for name in settings.signals.names() if name not in known]
    if unknown:
        raise ConfigError(f"signals: no signal named {', '.join(unknown)} (registered: "
                          f"{', '.join(sorted(known))})")
    out = []
    for cls in _registered:
        try:
            section = cls.settings_model.model_validate(settings.signals.raw(cls.name))
        except ValidationError as exc:
            problems = "; ".join(
                f"{env_var_for(('signals', cls.name, *error['loc']))}: {error['msg']}"
                for error in exc.errors())
            raise ConfigError(f"invalid signals.{cls.name} settings: {problems}") from None
        out.append(cls(settings, section))
    return out


def env_vars() -> list[str]:
    """The environment variables of every registered signal's settings (README documents
    each)."""
    from consumer.settings import env_var_for

    return [env_var_for(("signals", cls.name, field)) for cls in _registered
            for field in cls.settings_model.model_fields]


__all__ = ["BUILT_IN", "Evidence", "Finding", "Needs", "Opening", "Signal", "SignalSettings",
           "env_vars", "instances", "register", "registry", "unregister"]
