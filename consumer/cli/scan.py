"""`vmc scan`: the embedded default. Same sampler, models and policy as `vmc run`, without
Kafka; the models run in-process (onnxruntime) unless `--triton URL` is given."""

from __future__ import annotations

import argparse
import contextlib
import json
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from consumer.cli import UserError
from consumer.errors import InferenceError, MediaError
from consumer.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from consumer.inference.scorers import Scorer
    from consumer.models.specs import ModelSpec


def _video_id(uri: str) -> str:
    return PurePosixPath(urlsplit(uri).path).stem or uri


def _onnx_builder() -> Callable[[ModelSpec, Path], Path]:
    """The build tooling's ONNX builder, imported only here: the runtime image leaves the
    tooling (`triton_models/`) out, and then in-process scoring says so in one line."""
    try:
        from triton_models.repository import build_onnx
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] != "triton_models":
            raise
        raise UserError("in-process scoring builds each model's ONNX with the model build "
                        "tooling (triton_models/), which only a source checkout has: run vmc "
                        "scan from one, or score on a Triton server with --triton URL") from exc
    return build_onnx


def _scorers(args: argparse.Namespace, settings: Settings, specs: list[ModelSpec],
             stack: contextlib.ExitStack) -> dict[str, Scorer]:
    """In-process onnxruntime on the ONNX that Triton serves, or a Triton server."""
    from consumer.inference.scorers import OnnxScorer, RapidOcrReader, TritonScorer

    scorers: dict[str, Scorer] = {}
    for spec in specs:
        if args.triton:
            triton = TritonScorer(spec, args.triton, settings.triton.timeout_s)
            stack.callback(triton.close)
            scorers[spec.name] = triton
        elif spec.text_output is not None:
            scorers[spec.name] = RapidOcrReader(spec)
        else:
            build_onnx = _onnx_builder()
            scorers[spec.name] = OnnxScorer(spec, build_onnx(spec, settings.dev.cache_dir))
    return scorers


def _scan(args: argparse.Namespace, settings: Settings) -> int:
    from consumer.assembly import assemble
    from consumer.events.source import SourceRef
    from consumer.media import KeyframeExtractor, ResizeSpec
    from consumer.media.sources import allowing_named_files
    from consumer.pipeline.hooks import PipelineHooks
    from consumer.pipeline.judge import Judge
    from consumer.pipeline.kafka_clients import LIBRDKAFKA_MESSAGE_MAX_BYTES
    from consumer.pipeline.matching import match
    from consumer.policy.decide import failed
    from consumer.publishing.limits import RecordLimits
    from consumer.publishing.outputs import OutputRecords

    with contextlib.ExitStack() as stack:
        assembly = assemble(settings, stack, one_off=True)
        scorers = _scorers(args, settings, assembly.specs, stack)
        outputs = OutputRecords(settings.kafka.topics, run_id="scan",
                                policy_version=settings.policy.version,
                                model_versions={n: s.version for n, s in scorers.items()},
                                limits=RecordLimits.uniform(LIBRDKAFKA_MESSAGE_MAX_BYTES))
        judge = Judge(assembly.signals, settings.policy, {n: s.spec for n, s in scorers.items()},
                      outputs, PipelineHooks())
        resize = {name: ResizeSpec.of(s.spec) for name, s in scorers.items()}
        extractor = stack.enter_context(KeyframeExtractor(
            assembly.decode.with_workers(len(args.inputs)),
            allowing_named_files(settings.source, args.inputs)))
        futures = [(uri, extractor.submit(uri, list(resize.values()))) for uri in args.inputs]
        for index, (uri, future) in enumerate(futures):
            started = datetime.now(UTC)
            source = SourceRef("scan", 0, index)
            try:
                keyframes = future.result()
                scored = {name: scorer.scored(keyframes.frames[resize[name]])
                          for name, scorer in scorers.items()}
                texts = {i: lines for scorer in scorers.values()
                         for i, lines in enumerate(
                             scorer.texts(keyframes.frames[resize[scorer.spec.name]]) or [])}
            except MediaError as exc:
                _, record = outputs.verdict(source, _video_id(uri),
                                            failed(exc.reason, exc), versions={},
                                            uploaded_at=started, keyframes_analyzed=0,
                                            duration_s=None)
            except InferenceError as exc:
                raise UserError(f"inference failed for {uri}: {exc}") from exc
            else:
                judged = judge(source, _video_id(uri), keyframes,
                               scores={n: s.scores for n, s in scored.items()}, texts=texts,
                               versions={n: s.version for n, s in scorers.items()},
                               matches=match(assembly.signals, keyframes), uploaded_at=started,
                               embeddings={n: s.embeddings for n, s in scored.items()
                                           if s.embeddings is not None})
                record = judged.content
                if args.tags:
                    record["tags"] = json.loads(judged.tags.value)
                if args.records:  # by topic, e.g. the video embedding on kafka.topics.embeddings
                    record["records"] = {r.topic: json.loads(r.value) for r in judged.own}
            record["uri"] = uri
            print(json.dumps(record), flush=True)
    return 0


def register(commands: Any) -> None:
    scan = commands.add_parser(
        "scan", help="classify videos directly: one verdict JSON per video, no Kafka",
        description="The same keyframe sampler, models and policy as `vmc run`, for files or "
        "URLs named here. Models run in-process with onnxruntime on the ONNX that Triton "
        "serves (built once into dev.cache_dir; needs the `models` extra), or on a Triton "
        "server with --triton. A video that cannot be analysed gets an `unprocessable` verdict.",
    )
    scan.add_argument("inputs", nargs="+", metavar="FILE_OR_URL",
                      help="local path, file://, http(s)://, gs:// or s3:// URI")
    scan.add_argument("--triton", metavar="HOST:PORT", help="score on this Triton (gRPC)")
    scan.add_argument("--tags", action="store_true", help="include labels and technical facts")
    scan.add_argument("--records", action="store_true",
                      help="include the records signals publish on topics of their own (the "
                      "visual tagger's video embedding), by topic")
    scan.set_defaults(handler=_scan, decodes_video=True)
