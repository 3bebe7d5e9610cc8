"""The content box: bars of any colour come off, through compression noise and a line of
garbage at the edge; a picture without bars, a dark scene and a uniform frame keep their
whole box."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
from skimage import data

from consumer.media.content_box import MIN_BOX_SHARE, content_box

PHOTOS = ["astronaut", "coffee", "chelsea"]
COLOURS = [(0, 0, 0), (255, 255, 255), (128, 128, 128), (40, 90, 200)]


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
    return frame.reformat(width, height, "rgb24", interpolation="AREA").to_ndarray()


def _photo(name: str, width: int = 640, height: int = 360) -> np.ndarray:
    return _resize(getattr(data, name)(), width, height)


def _framed(picture: np.ndarray, height: int, width: int,
            colour: tuple[int, int, int] = (0, 0, 0)) -> tuple[np.ndarray, tuple[int, ...]]:
    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = colour
    top, left = (height - picture.shape[0]) // 2, (width - picture.shape[1]) // 2
    canvas[top:top + picture.shape[0], left:left + picture.shape[1]] = picture
    return canvas, (top, top + picture.shape[0], left, left + picture.shape[1])


def _h264(image: np.ndarray, crf: int) -> np.ndarray:
    """`image` through an H.264 encode and decode at the given quality."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height = image.shape[1], image.shape[0]
        stream.pix_fmt, stream.options = "yuv420p", {"crf": str(crf)}
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    buffer.seek(0)
    with av.open(buffer) as container:
        return next(container.decode(video=0)).to_ndarray(format="rgb24")


def _close(box: tuple[int, ...], expected: tuple[int, ...], slack: int) -> bool:
    return all(abs(a - b) <= slack for a, b in zip(box, expected, strict=True))


@pytest.mark.parametrize("name", PHOTOS)
def test_a_picture_without_bars_keeps_its_whole_box(name: str) -> None:
    assert content_box(_photo(name)) == (0, 360, 0, 640)


@pytest.mark.parametrize("colour", COLOURS)
def test_exact_bars_of_any_colour_come_off_on_every_side(colour: tuple[int, int, int]) -> None:
    picture = _photo("astronaut", 400, 300)
    letterbox, expected = _framed(picture, 480, 400, colour)
    assert content_box(letterbox) == expected
    pillarbox, expected = _framed(picture, 300, 640, colour)
    assert content_box(pillarbox) == expected
    windowbox, expected = _framed(picture, 480, 640, colour)
    assert content_box(windowbox) == expected


@pytest.mark.parametrize("colour", COLOURS)
@pytest.mark.parametrize("crf", [23, 40])
def test_bars_come_off_through_h264_noise(colour: tuple[int, int, int], crf: int) -> None:
    framed, expected = _framed(_photo("coffee"), 480, 640, colour)
    box = content_box(_h264(framed, crf))
    # Ringing reaches into the bar by one 16-pixel macroblock at most; never cut deeper in.
    assert _close(box, expected, slack=16)
    assert box[0] <= expected[0] + 1 and box[1] >= expected[1] - 1


def test_bars_come_off_the_small_stretched_frame_the_worker_hashes() -> None:
    framed, _ = _framed(_photo("chelsea"), 480, 640)  # 60 rows of bar above and below
    square = _resize(_h264(framed, 30), 384, 384)
    assert _close(content_box(square), (48, 336, 0, 384), slack=4)


def test_a_line_of_garbage_at_the_very_edge_does_not_hide_the_bar() -> None:
    framed, expected = _framed(_photo("astronaut"), 480, 640)
    noise = np.random.default_rng(3).integers(0, 256, (2, 640, 3), dtype=np.uint8)
    framed[:2] = noise  # e.g. a half-decoded first row
    framed[:, -1] = 255  # a bright last column
    box = content_box(framed)
    assert _close(box, expected, slack=1)


@pytest.mark.parametrize("name", [*PHOTOS, "cat"])
def test_a_dark_scene_keeps_its_whole_box(name: str) -> None:
    night = (_photo(name).astype(np.float32) * 0.25).astype(np.uint8)  # values 0..63
    assert content_box(night) == (0, 360, 0, 640)


@pytest.mark.parametrize("value", [0, 16, 128, 255])
def test_a_uniform_frame_keeps_its_whole_box(value: int) -> None:
    flat = np.full((360, 640, 3), value, np.uint8)
    flat += np.random.default_rng(value).integers(0, 3, flat.shape, dtype=np.uint8)
    assert content_box(flat) == (0, 360, 0, 640)


def test_a_picture_too_small_for_a_box_keeps_the_side_whole() -> None:
    tiny = _photo("coffee", 640, 40)  # a 40-row strip inside 480 rows: under MIN_BOX_SHARE
    framed, _ = _framed(tiny, 480, 640)
    assert MIN_BOX_SHARE * 480 > 40
    y0, y1, _, _ = content_box(framed)
    assert (y0, y1) == (0, 480)


def test_a_grey_frame_does_not_count_as_a_colour_bar() -> None:
    """A bar is one colour in every channel: a picture whose edge rows share only their
    brightness (a red row over a green one) is not a bar."""
    picture = _photo("astronaut")
    stripes = np.zeros((40, 640, 3), np.uint8)
    stripes[:, ::2] = (200, 0, 0)
    stripes[:, 1::2] = (0, 0, 200)
    framed = np.concatenate([stripes, picture])
    assert content_box(framed)[0] == 0
