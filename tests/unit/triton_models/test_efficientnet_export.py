"""The exported `visual_tagger` against the raw network, and what it answers on known photos."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from consumer.models.specs import VISUAL_TAGGER
from consumer.signals.visual.vocabulary import VOCABULARY
from triton_models.configs import TARGETS, model_config
from triton_models.efficientnet_export import (
    export_tagger,
    load_network,
    reference_scores,
    weights_path,
)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_tagger(weights_path(), tmp_path_factory.mktemp("tagger") / "model.onnx")


@pytest.fixture(scope="module")
def session(exported: Path) -> Any:
    import onnxruntime as ort

    return ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])


def _stretched(image: np.ndarray) -> np.ndarray:
    """What the client sends: the whole frame stretched to 224x224 (bilinear, as swscale)."""
    from skimage.transform import resize

    out = resize(image, (224, 224), order=1, anti_aliasing=True, preserve_range=True)
    return np.round(out).astype(np.uint8)


def _photos() -> dict[str, np.ndarray]:
    from skimage import data

    return {name: _stretched(getattr(data, name)()) for name in
            ("chelsea", "coffee", "astronaut", "rocket")}


def _top(session: Any, image: np.ndarray, k: int = 3) -> list[str]:
    (scores,) = session.run(["scores"], {"images": image[None]})
    return [VISUAL_TAGGER.labels[i] for i in np.argsort(-scores[0])[:k]]


def test_served_graph_matches_the_raw_network_on_photos(session: Any) -> None:
    photos = np.stack(list(_photos().values()))
    scores, embeddings = session.run(["scores", "embeddings"], {"images": photos})
    raw = reference_scores(load_network(weights_path()), photos)
    assert float(np.abs(scores - raw).max()) <= 1e-4
    assert embeddings.shape == (4, 1280) and np.all(np.isfinite(embeddings))
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-5)


def test_the_cat_is_a_cat_and_the_coffee_is_coffee(session: Any) -> None:
    photos = _photos()
    assert _top(session, photos["chelsea"])[0] in ("Egyptian cat", "tabby", "tiger cat")
    assert set(_top(session, photos["chelsea"])) <= {"Egyptian cat", "tabby", "tiger cat"}
    assert _top(session, photos["coffee"])[0] in ("espresso", "cup", "coffee mug")
    (scores,) = session.run(["scores"], {"images": photos["chelsea"][None]})
    assert float(scores[0, list(VOCABULARY["animal"])].sum()) > 0.9


def test_generated_scenes_are_not_tagged_with_confidence(session: Any) -> None:
    """Flat colours and noise (what a black intro or a glitch shows) reach no class at 0.5."""
    rng = np.random.default_rng(0)
    scenes = np.stack([np.zeros((224, 224, 3), np.uint8),
                       np.full((224, 224, 3), 255, np.uint8),
                       rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)])
    (scores,) = session.run(["scores"], {"images": scenes})
    assert float(scores.max()) < 0.5


def test_crops_and_reencodes_stay_near_and_unrelated_photos_do_not(session: Any) -> None:
    from skimage import data

    cat = data.chelsea()
    crop = cat[20:280, 40:420]
    darker = (cat.astype(np.float32) * 0.8).astype(np.uint8)
    images = np.stack([_stretched(x) for x in (cat, crop, darker, data.coffee(),
                                                data.rocket())])
    (emb,) = session.run(["embeddings"], {"images": images})
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    cos = unit @ unit.T
    assert min(cos[0, 1], cos[0, 2]) > 0.8
    assert max(cos[0, 3], cos[0, 4]) < min(cos[0, 1], cos[0, 2]) - 0.2


@pytest.mark.parametrize("target", TARGETS)
def test_every_target_declares_scores_and_embeddings(target: str) -> None:
    config = model_config(VISUAL_TAGGER, target)  # type: ignore[arg-type]
    outputs = {o.name: list(o.dims) for o in config.output}
    assert outputs == {"scores": [1000], "embeddings": [1280]}
