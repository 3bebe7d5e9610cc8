"""What a served model's licence means for the service that serves it: the terms behind each
non-permissive licence, and the lines start-up logs for the models it was told to serve.

The build tooling (`triton_models/licences.py`) refuses to build a model whose licence was not
accepted and shows the same terms; the service itself only states them.
"""

from __future__ import annotations

from collections.abc import Iterable

from consumer.models.specs import ModelSpec

# What a non-permissive licence means for a service that serves the model; shown at build and
# at start-up.
LICENCE_TERMS = {
    "AGPL-3.0": "a modified version (the wrapped graph arguably is one) served to users over "
                "a network must offer them its complete source under the AGPL (section 13), "
                "and shipping it (images, appliances) carries the GPL's source duties; most "
                "legal teams forbid AGPL components in a service",
}


def licence_notices(specs: Iterable[ModelSpec]) -> list[str]:
    """One line per model with a non-permissive licence, for the log at start-up."""
    notices = []
    for spec in specs:
        source = spec.provenance
        if source is None or not source.restrictive_licences:
            continue
        licences = ", ".join(source.restrictive_licences)
        terms = "; ".join(LICENCE_TERMS.get(x, f"{x} is not permissive")
                          for x in source.restrictive_licences)
        notices.append(f"model {spec.name} ({source.package} {source.package_version}) is "
                       f"{licences} (code {source.code_licence}, weights "
                       f"{source.weights_licence}): {terms}")
    return notices
