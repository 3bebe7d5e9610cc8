"""The licences of the served models at build time: what a build must be told to accept, and
the one table (`python -m triton_models list`, README "Models") naming every model's terms.

The terms themselves and start-up's notices belong to the service (`consumer.models.licences`).
Pure: reads the specs only, importable without onnx or onnxruntime.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from consumer.models.licences import LICENCE_TERMS
from consumer.models.specs import DEFAULT_MODELS, SPECS, ModelSpec, Provenance


class LicenceNotAccepted(ValueError):
    """A model's code or weights carry a non-permissive licence that was not accepted."""


def unaccepted(spec: ModelSpec, accepted: Collection[str]) -> tuple[str, ...]:
    """The non-permissive licences of `spec` not in `accepted` (SPDX ids, any case)."""
    if spec.provenance is None:
        return ()
    ok = {licence.casefold() for licence in accepted}
    return tuple(x for x in spec.provenance.restrictive_licences if x.casefold() not in ok)


def require_accepted(specs: Iterable[ModelSpec], accepted: Collection[str]) -> None:
    """Raise `LicenceNotAccepted` naming each model, its licence and what accepting it means."""
    problems = []
    for spec in specs:
        for licence in unaccepted(spec, accepted):
            terms = LICENCE_TERMS.get(licence, "not a permissive licence")
            problems.append(f"{spec.name} is {licence}: {terms}. Build it only with your legal "
                            f"team's agreement: --accept-licence {licence}")
    if problems:
        raise LicenceNotAccepted("; ".join(problems))


def _input(spec: ModelSpec) -> str:
    size = spec.input_size
    return f"uint8 NHWC RGB `[B,{size},{size},3]`, {spec.resize_mode}"


def _outputs(spec: ModelSpec) -> str:
    return ", ".join(f"`{name}` `[B,{','.join(map(str, dims))}]`"
                     for name, dims in spec.output_dims().items())


def _code_licence(source: Provenance) -> str:
    code, claimed = source.code_licence, source.metadata_licence
    return code if claimed in (None, code) else f"{code} (wheel metadata says {claimed})"


def _default(spec: ModelSpec, source: Provenance) -> str:
    if spec.name in DEFAULT_MODELS:
        return "on"
    accept = " ".join(f"--accept-licence {x}" for x in source.restrictive_licences)
    return f"off (opt-in; build needs `{accept}`)" if accept else "off"


def model_table(specs: Collection[ModelSpec] = tuple(SPECS.values())) -> str:
    """A Markdown table: each served model, its task, source, licences, tensors, default."""
    lines = ["| model | task | source | code licence | weights licence | input | outputs | "
             "default |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for spec in specs:
        source = spec.provenance
        if source is None:
            continue
        lines.append(f"| `{spec.name}` | {source.task} | `{source.package}` "
                     f"{source.package_version} | {_code_licence(source)} | "
                     f"{source.weights_licence} | {_input(spec)} | {_outputs(spec)} | "
                     f"{_default(spec, source)} |")
    caveats = [f"- `{spec.name}`: {spec.provenance.data_caveat}." for spec in specs
               if spec.provenance is not None and spec.provenance.data_caveat]
    return "\n".join([*lines, "", "Training data:", *caveats] if caveats else lines)
