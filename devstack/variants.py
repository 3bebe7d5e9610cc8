"""A generated variant set for known-content matching: source clips, the edits re-uploads of
known content go through (bars, colour, logos, mirror, cuts, re-encodes) and unrelated clips.

Nothing here comes from facebook/ThreatExchange's samples (the held-out test set): a source
clip is made of scenes that pan and zoom across a scikit-image photo or a seeded procedural
picture, with a scene change every `SCENE_S` seconds, encoded with PyAV. Unrelated clips use
only procedural pictures of other seeds and scikit-image textures no source uses.

    from devstack.variants import make_variant_set
    videos = make_variant_set(folder, sources=3)  # {(source, variant): path}
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from skimage import data

from devstack.samples import encode_frames

Frame = npt.NDArray[np.uint8]
WIDTH, HEIGHT, FPS = 480, 270, 10  # 16:9 sources
SCENE_S = 2.0
SOURCE_S = 6.0
SOURCE_PHOTOS = ("astronaut", "coffee", "rocket", "chelsea", "immunohistochemistry",
                 "hubble_deep_field")
UNRELATED_TEXTURES = ("camera", "brick", "grass")
CRF = "23"


def _resize(image: Frame, width: int, height: int) -> Frame:
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image[..., :3]), format="rgb24")
    out: Frame = np.asarray(frame.reformat(width, height, "rgb24", interpolation="AREA")
                            .to_ndarray(), np.uint8)
    return out


def procedural(seed: int, width: int = 2 * WIDTH, height: int = 2 * HEIGHT) -> Frame:
    """A seeded picture with structure at every scale (smooth colour fields, shapes)."""
    rng = np.random.default_rng(seed)
    image = np.zeros((height, width, 3), np.float32)
    for cells in (3, 9, 27):
        field = rng.random((cells, cells * 2, 3)).astype(np.float32)
        image += np.asarray(_resize((field * 255).astype(np.uint8), width, height),
                            np.float32) / 3
    yy, xx = np.mgrid[:height, :width]
    for _ in range(12):
        cx, cy, r = rng.integers(0, width), rng.integers(0, height), rng.integers(10, height // 3)
        inside = (xx - cx) ** 2 + (yy - cy) ** 2 < r * r
        image[inside] = rng.integers(0, 256, 3)
    return np.clip(image, 0, 255).astype(np.uint8)


def _picture(name_or_seed: str | int) -> Frame:
    if isinstance(name_or_seed, int):
        return procedural(name_or_seed)
    image = getattr(data, name_or_seed)()
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return _resize(image, 2 * WIDTH, 2 * HEIGHT)


def _scene(picture: Frame, frames: int, seed: int) -> list[Frame]:
    """A pan with a slow zoom across `picture` (twice the output size)."""
    rng = np.random.default_rng(seed)
    height, width = picture.shape[:2]
    start = rng.uniform(0.1, 0.4, 2)  # a slow camera: a few percent of the picture per scene
    end = start + rng.uniform(-0.04, 0.04, 2)
    out = []
    for i in range(frames):
        step = i / max(1, frames - 1)
        zoom = 0.6 + 0.02 * step
        w, h = int(width * zoom), int(height * zoom)
        x = int((start[0] + (end[0] - start[0]) * step) * (width - w))
        y = int((start[1] + (end[1] - start[1]) * step) * (height - h))
        out.append(_resize(picture[y:y + h, x:x + w], WIDTH, HEIGHT))
    return out


def clip(pictures: list[str | int], seed: int, seconds: float = SOURCE_S) -> list[Frame]:
    """Scenes of `SCENE_S` seconds, cycling through `pictures`."""
    frames: list[Frame] = []
    per_scene = int(SCENE_S * FPS)
    for scene in range(round(seconds / SCENE_S)):
        picture = _picture(pictures[scene % len(pictures)])
        frames += _scene(picture, per_scene, seed * 100 + scene)
    return frames


def source_clip(index: int) -> list[Frame]:
    """Source `index`: two photos and a procedural picture, 6 s."""
    photos = [SOURCE_PHOTOS[(2 * index) % len(SOURCE_PHOTOS)],
              SOURCE_PHOTOS[(2 * index + 1) % len(SOURCE_PHOTOS)]]
    return clip([photos[0], 1000 + index, photos[1]], seed=index)


def unrelated_clip(index: int, seconds: float = SOURCE_S) -> list[Frame]:
    return clip([5000 + index, UNRELATED_TEXTURES[index % len(UNRELATED_TEXTURES)],
                 6000 + index], seed=900 + index, seconds=seconds)


# --- edits: each takes a source's frames and gives the variant's frames ---------------------

def _framed(frames: list[Frame], width: int, height: int, colour: tuple[int, int, int]
            ) -> list[Frame]:
    """Each frame scaled to fit a width x height canvas of `colour`, centred (bars)."""
    scale = min(width / WIDTH, height / HEIGHT)
    w, h = int(WIDTH * scale) // 2 * 2, int(HEIGHT * scale) // 2 * 2
    top, left = (height - h) // 2, (width - w) // 2
    out = []
    for frame in frames:
        canvas = np.empty((height, width, 3), np.uint8)
        canvas[:] = colour
        canvas[top:top + h, left:left + w] = _resize(frame, w, h)
        out.append(canvas)
    return out


def _grey(frames: list[Frame]) -> list[Frame]:
    luma = [(f @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.uint8) for f in frames]
    return [np.stack([y, y, y], axis=-1) for y in luma]


def _sepia(frames: list[Frame]) -> list[Frame]:
    matrix = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]],
                      np.float32)
    return [np.clip(f @ matrix.T, 0, 255).astype(np.uint8) for f in frames]


def _logo(frames: list[Frame], share: float) -> list[Frame]:
    """A logo covering `share` of the frame's width, near the top-right corner."""
    size = int(WIDTH * share) // 2 * 2
    rgba: Frame = data.logo()  # type: ignore[no-untyped-call]
    logo = _resize(rgba, size, size)
    alpha = _resize(np.repeat(rgba[..., 3:], 3, axis=-1), size, size)[..., :1] / 255.0
    out = []
    y, x = 8, WIDTH - size - 8
    for frame in frames:
        marked = frame.copy()
        region = marked[y:y + size, x:x + size].astype(np.float32)
        marked[y:y + size, x:x + size] = (region * (1 - alpha) + logo * alpha).astype(np.uint8)
        out.append(marked)
    return out


Edit = Callable[[list[Frame]], list[Frame]]
VARIANTS: dict[str, tuple[Edit, int, int, str]] = {
    # name: (edit, width, height, crf)
    "exact": (lambda f: f, WIDTH, HEIGHT, CRF),
    "letterbox_4x3": (lambda f: _framed(f, 480, 360, (0, 0, 0)), 480, 360, CRF),
    "letterbox_9x16": (lambda f: _framed(f, 272, 480, (0, 0, 0)), 272, 480, CRF),
    "pillarbox_2x1_white": (lambda f: _framed(f, 540, 270, (255, 255, 255)), 540, 270, CRF),
    "pillarbox_21x9": (lambda f: _framed(f, 630, 270, (0, 0, 0)), 630, 270, CRF),
    "windowbox_grey": (lambda f: _framed(f, 640, 480, (96, 96, 96)), 640, 480, CRF),
    "grey": (_grey, WIDTH, HEIGHT, CRF),
    "sepia": (_sepia, WIDTH, HEIGHT, CRF),
    "logo_small": (lambda f: _logo(f, 0.12), WIDTH, HEIGHT, CRF),
    "logo_large": (lambda f: _logo(f, 0.35), WIDTH, HEIGHT, CRF),
    "mirror": (lambda f: [np.ascontiguousarray(x[:, ::-1]) for x in f], WIDTH, HEIGHT, CRF),
    "trim_middle": (lambda f: f[len(f) // 4: 3 * len(f) // 4], WIDTH, HEIGHT, CRF),
    "longer_cut": (lambda f: [*unrelated_clip(77, 2.0), *f, *unrelated_clip(78, 2.0)],
                   WIDTH, HEIGHT, CRF),
    "lowres_lowbitrate": (lambda f: [_resize(x, 320, 180) for x in f], 320, 180, "38"),
    "highres": (lambda f: [_resize(x, 960, 540) for x in f], 960, 540, "28"),
}


def encode(path: Path, frames: list[Frame], width: int, height: int, crf: str = CRF) -> Path:
    return encode_frames(path, frames, width=width, height=height, fps=FPS, gop=FPS,
                         options={"crf": crf})


def make_variant_set(folder: Path, sources: int = 3, unrelated: int = 3,
                     variants: tuple[str, ...] = tuple(VARIANTS)) -> dict[tuple[str, str], Path]:
    """Encode every source, each of its `variants`, and the unrelated clips into `folder`:
    {("source-0", "letterbox_4x3"): path, ..., ("unrelated-1", "unrelated"): path}."""
    folder.mkdir(parents=True, exist_ok=True)
    made: dict[tuple[str, str], Path] = {}
    for index in range(sources):
        frames = source_clip(index)
        name = f"source-{index}"
        made[(name, "source")] = encode(folder / f"{name}.mp4", frames, WIDTH, HEIGHT)
        for variant in variants:
            edit, width, height, crf = VARIANTS[variant]
            made[(name, variant)] = encode(folder / f"{name}-{variant}.mp4", edit(frames),
                                           width, height, crf)
    for index in range(unrelated):
        name = f"unrelated-{index}"
        made[(name, "unrelated")] = encode(folder / f"{name}.mp4", unrelated_clip(index),
                                           WIDTH, HEIGHT)
    return made
