"""ONNX surgery that turns nudenet's `320n.onnx` into the served `nsfw_detector`.

The wrapped graph takes uint8 NHWC RGB `[B, 320, 320, 3]` and does in-graph what
`nudenet.NudeDetector` does around its session, so the server (the GPU in production) carries
the work and the client sends a quarter of the bytes of float input:

- pre: cast, scale by 1/255, go NCHW; the channels stay **RGB**, the order the YOLOv8 model
  was trained on. This deliberately differs from `NudeDetector` on image files: it reads
  them with cv2 (BGR), and its two channel swaps (`cvtColor(RGBA2BGR)`, then
  `blobFromImage(swapRB=True)`) cancel, so the network receives BGR (notAI-tech/NudeNet
  issue #203). Fed BGR, the scores differ from RGB by up to 0.33 on real photos.
- post: `scores` `[B, 18]` is each class's maximum over all anchors; `detections`
  `[B, K, 6]` is x1, y1, x2, y2 (input pixels, clipped to the image), score and class index of
  the class-agnostic NMS survivors (IoU 0.45, score > 0.25, as NudeDetector), best first;
  rows past the last survivor are all zero. NMS, ScatterND and TopK are TensorRT-supported ops.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from consumer.models.specs import NSFW_DETECTOR, ModelSpec
from triton_models.wrap_cache import cached_wrap, fingerprint, save_checked

_THIS_SOURCE = Path(__file__).read_bytes()  # the wrapping code, as imported
_RAW_INPUT = "images"
_RAW_OUTPUT = "output0"
_BOX_FIELDS = 4


def nudenet_onnx_path() -> Path:
    """The `320n.onnx` shipped inside the installed nudenet wheel."""
    import nudenet

    path = Path(nudenet.__file__).resolve().parent / "320n.onnx"
    if not path.exists():
        raise FileNotFoundError(f"nudenet ships no 320n.onnx at {path}")
    return path


def wrap_fingerprint(source: Path, spec: ModelSpec = NSFW_DETECTOR) -> str:
    """A hash of everything the wrapped model depends on: the source ONNX, this code, the spec."""
    return fingerprint(source, _THIS_SOURCE, spec)


def _const(name: str, values: Any, dtype: Any) -> Any:
    import numpy as np
    from onnx import numpy_helper

    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


def wrap_nudenet(source: Path, out: Path, spec: ModelSpec = NSFW_DETECTOR) -> Path:
    """Write the wrapped detector to `out` and return it; the result passes the ONNX checker."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper

    if spec.detections_output is None:
        raise ValueError(f"{spec.name}: the nudenet wrapper needs a detections output")
    model = onnx.load(str(source))
    graph = model.graph
    size, k, n_labels = spec.input_size, spec.max_detections, len(spec.labels)

    for node in graph.node:
        node.input[:] = ["pre_nchw" if name == _RAW_INPUT else name for name in node.input]

    inits = [
        _const("pre_scale", 1.0 / 255.0, np.float32),
        _const("post_box_start", [0], np.int64),
        _const("post_box_end", [_BOX_FIELDS], np.int64),
        _const("post_cls_end", [_BOX_FIELDS + n_labels], np.int64),
        _const("post_axis1", [1], np.int64),
        _const("post_half", 0.5, np.float32),
        _const("post_lo", 0.0, np.float32),
        _const("post_hi", float(size), np.float32),
        _const("post_k", [k], np.int64),
        _const("post_iou", [spec.nms_iou_threshold], np.float32),
        _const("post_score_thr", [spec.detection_score_threshold], np.float32),
        _const("post_batch_and_box", [0, 2], np.int64),
        _const("post_zero", 0.0, np.float32),
        _const("post_two", [2], np.int64),
        _const("post_four", [_BOX_FIELDS], np.int64),
        _const("post_split", [2, 2], np.int64),
    ]
    pre = [
        helper.make_node("Cast", [spec.input_name], ["pre_float"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["pre_float", "pre_scale"], ["pre_scaled"]),
        helper.make_node("Transpose", ["pre_scaled"], ["pre_nchw"], perm=[0, 3, 1, 2]),
    ]
    det = spec.detections_output
    post = [
        # [B, 22, N] -> boxes [B, 4, N] (cx, cy, w, h) and class scores [B, 18, N].
        helper.make_node("Slice", [_RAW_OUTPUT, "post_box_start", "post_box_end", "post_axis1"],
                         ["post_cxcywh"]),
        helper.make_node("Slice", [_RAW_OUTPUT, "post_box_end", "post_cls_end", "post_axis1"],
                         ["post_cls"]),
        helper.make_node("ReduceMax", ["post_cls"], [spec.scores_output], axes=[2], keepdims=0),
        helper.make_node("ReduceMax", ["post_cls"], ["post_best"], axes=[1], keepdims=1),
        helper.make_node("ArgMax", ["post_cls"], ["post_best_cls_i"], axis=1, keepdims=0),
        helper.make_node("Cast", ["post_best_cls_i"], ["post_best_cls"], to=TensorProto.FLOAT),
        # Corners clipped to the input, as NudeDetector clips before its NMS.
        helper.make_node("Transpose", ["post_cxcywh"], ["post_cxcywh_t"], perm=[0, 2, 1]),
        helper.make_node("Split", ["post_cxcywh_t", "post_split"], ["post_c", "post_wh"],
                         axis=2),
        helper.make_node("Mul", ["post_wh", "post_half"], ["post_half_wh"]),
        helper.make_node("Sub", ["post_c", "post_half_wh"], ["post_xy1_raw"]),
        helper.make_node("Add", ["post_c", "post_half_wh"], ["post_xy2_raw"]),
        helper.make_node("Concat", ["post_xy1_raw", "post_xy2_raw"], ["post_xyxy_raw"], axis=2),
        helper.make_node("Clip", ["post_xyxy_raw", "post_lo", "post_hi"], ["post_xyxy"]),
        # Class-agnostic NMS, then a [B, N] mask of the survivors.
        helper.make_node("NonMaxSuppression",
                         ["post_xyxy", "post_best", "post_k", "post_iou", "post_score_thr"],
                         ["post_selected"], center_point_box=0),
        helper.make_node("Gather", ["post_selected", "post_batch_and_box"], ["post_sel_idx"],
                         axis=1),
        helper.make_node("Squeeze", ["post_best", "post_axis1"], ["post_best_bn"]),
        helper.make_node("Mul", ["post_best_bn", "post_zero"], ["post_zeros_bn"]),
        helper.make_node("Shape", ["post_sel_idx"], ["post_sel_shape"], start=0, end=1),
        helper.make_node("ConstantOfShape", ["post_sel_shape"], ["post_ones"],
                         value=helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])),
        helper.make_node("ScatterND", ["post_zeros_bn", "post_sel_idx", "post_ones"],
                         ["post_mask"]),
        helper.make_node("Mul", ["post_best_bn", "post_mask"], ["post_kept"]),
        # The K best survivors; rows past the last survivor have score 0 and are zeroed.
        helper.make_node("TopK", ["post_kept", "post_k"], ["post_top_score", "post_top_idx"],
                         axis=1, largest=1, sorted=1),
        helper.make_node("GatherElements", ["post_best_cls", "post_top_idx"], ["post_top_cls"],
                         axis=1),
        helper.make_node("Unsqueeze", ["post_top_idx", "post_two"], ["post_top_idx3"]),
        helper.make_node("Shape", ["post_top_idx3"], ["post_idx3_shape"]),
        helper.make_node("Slice", ["post_idx3_shape", "post_box_start", "post_two"],
                         ["post_bk"]),
        helper.make_node("Concat", ["post_bk", "post_four"], ["post_bk4"], axis=0),
        helper.make_node("Expand", ["post_top_idx3", "post_bk4"], ["post_top_idx4"]),
        helper.make_node("GatherElements", ["post_xyxy", "post_top_idx4"], ["post_top_box"],
                         axis=1),
        helper.make_node("Unsqueeze", ["post_top_score", "post_two"], ["post_top_score3"]),
        helper.make_node("Unsqueeze", ["post_top_cls", "post_two"], ["post_top_cls3"]),
        helper.make_node("Concat", ["post_top_box", "post_top_score3", "post_top_cls3"],
                         ["post_rows"], axis=2),
        helper.make_node("Greater", ["post_top_score3", "post_zero"], ["post_valid_b"]),
        helper.make_node("Cast", ["post_valid_b"], ["post_valid"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["post_rows", "post_valid"], [det]),
    ]
    nodes = [*pre, *graph.node, *post]
    new_graph = helper.make_graph(
        nodes,
        f"{spec.name}_wrapped",
        [helper.make_tensor_value_info(spec.input_name, TensorProto.UINT8,
                                       ["batch", size, size, 3])],
        [
            helper.make_tensor_value_info(spec.scores_output, TensorProto.FLOAT,
                                          ["batch", n_labels]),
            helper.make_tensor_value_info(det, TensorProto.FLOAT, ["batch", k, 6]),
        ],
        initializer=[*graph.initializer, *inits],
    )
    return save_checked(new_graph, model, "triton_models.nudenet_wrap", out)


def cached_nudenet_wrap(cache_dir: Path, spec: ModelSpec = NSFW_DETECTOR) -> Path:
    """The wrapped detector, built once per fingerprint of its inputs under `cache_dir`."""
    return cached_wrap(cache_dir, spec, nudenet_onnx_path(), _THIS_SOURCE, wrap_nudenet)
