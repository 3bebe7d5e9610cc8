"""Frames with rendered on-screen text (Pillow, Debian's DejaVu fonts) for the OCR tests: what
was written, and the frame as the pipeline sends it (padded into the `ocr` input square)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from skimage import data

from consumer.media.resize import ResizeSpec, resize_frame
from consumer.models.specs import OCR

FONTS = Path("/usr/share/fonts/truetype/dejavu")
SPEC = ResizeSpec(OCR.input_size, OCR.resize_mode)

# (name, background, [(text, (x, y), size, colour, font file)])
SCENES = [
    ("caption", (20, 40, 80), [("Visit www.example.com today", (60, 60), 48, (255, 255, 255),
                                "DejaVuSans-Bold.ttf")]),
    ("contact", (250, 250, 240), [("mail: sales@shop-example.org", (40, 120), 44, (10, 10, 10),
                                   "DejaVuSans.ttf"),
                                  ("call 555 0142 now", (40, 420), 56, (200, 0, 0),
                                   "DejaVuSans-Bold.ttf")]),
    ("subtitle", (0, 0, 0), [("I will see you tomorrow", (300, 900), 52, (255, 255, 0),
                              "DejaVuSans.ttf")]),
    ("serif", (90, 90, 90), [("Breaking News", (500, 200), 72, (255, 255, 255),
                              "DejaVuSerif-Bold.ttf")]),
]


def _draw(size: tuple[int, int], background: tuple[int, int, int] | np.ndarray,
          lines: list[tuple[str, tuple[int, int], int, tuple[int, int, int], str]]) -> np.ndarray:
    image = Image.fromarray(background) if isinstance(background, np.ndarray) else \
        Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    for text, at, points, colour, font in lines:
        draw.text(at, text, font=ImageFont.truetype(str(FONTS / font), points), fill=colour)
    return np.asarray(image, np.uint8)


def scenes() -> dict[str, tuple[np.ndarray, list[str]]]:
    """name -> (1920x1080 RGB frame, the strings written on it)."""
    out = {name: (_draw((1920, 1080), background, lines), [line[0] for line in lines])
           for name, background, lines in SCENES}
    photo = np.asarray(Image.fromarray(data.coffee()).resize((1920, 1080)), np.uint8)
    out["photo"] = (_draw((1920, 1080), photo, [("FRESH COFFEE", (80, 80), 96, (255, 255, 255),
                                                 "DejaVuSans-Bold.ttf")]), ["FRESH COFFEE"])
    return out


def as_sent(frame: np.ndarray) -> np.ndarray:
    """The frame as the decode workers hand it to `ocr`: scaled into the square, padded."""
    video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(format="yuv420p")
    return resize_frame(video_frame, SPEC, 0)


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate: edit distance / reference length."""
    previous = list(range(len(hypothesis) + 1))
    for i, a in enumerate(reference, 1):
        current = [i]
        for j, b in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b)))
        previous = current
    return previous[-1] / max(len(reference), 1)


def word_grid(seed: int = 0, size: int = 960, points: int = 14) -> np.ndarray:
    """A frame printed full of 4-letter words (hundreds of text boxes): what OCR costs most."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(FONTS / "DejaVuSans.ttf"), points)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    for y in range(4, size - points, points + 6):
        for x in range(4, size - 6 * points // 2, 3 * points):
            draw.text((x, y), "".join(rng.choice(letters, 4)), font=font, fill=(0, 0, 0))
    return np.asarray(image, np.uint8)
