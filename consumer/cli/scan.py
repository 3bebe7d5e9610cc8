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
    from consumer.inference.scorers import Scorer
    from consumer.policy.hash_list_store import HashListStore
    from consumer.policy.music import MusicCatalogues
    from consumer.policy.text_rules import CompiledRule
    from triton_models.specs import ModelSpec


def _video_id(uri: str) -> str:
    return PurePosixPath(urlsplit(uri).path).stem or uri


def _known_content(settings: Settings) -> HashListStore:
    from consumer.policy.hash_list_store import HashListStore

    return HashListStore(settings.policy.hash_lists,
                         reload_s=settings.policy.hash_lists_reload_s,
                         min_keep_ratio=settings.policy.hash_lists_min_keep_ratio)


def _text_rules(settings: Settings) -> list[CompiledRule]:
    from consumer.policy.hash_list_store import load_text_rules

    return load_text_rules(settings.policy.text_rules)


def _music(settings: Settings) -> MusicCatalogues | None:
    from consumer.policy.music import MusicCatalogues

    if not settings.audio.catalogues:
        return None
    return MusicCatalogues(settings.audio)


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
            from triton_models.repository import build_onnx

            scorers[spec.name] = OnnxScorer(spec, build_onnx(spec, settings.dev.cache_dir))
    return scorers


def _scan(args: argparse.Namespace, settings: Settings) -> int:
    from consumer.events.source import SourceRef
    from consumer.media import KeyframeExtractor, ResizeSpec
    from consumer.media.sources import allowing_named_files
    from consumer.policy.assess import assess
    from consumer.policy.decide import unprocessable
    from consumer.publishing.records import verdict_record
    from triton_models.specs import get_spec

    try:
        specs = [get_spec(name) for name in settings.pipeline.models]
    except KeyError as exc:
        raise UserError(str(exc.args[0])) from exc
    known = _known_content(settings)
    text_rules = _text_rules(settings)
    music = _music(settings)
    with contextlib.ExitStack() as stack:
        scorers = _scorers(args, settings, specs, stack)
        resize = {name: ResizeSpec.of(s.spec) for name, s in scorers.items()}
        decode = settings.decode.model_copy(
            update={"workers": min(settings.decode.workers, len(args.inputs))})
        extractor = stack.enter_context(KeyframeExtractor(
            decode, allowing_named_files(settings.source, args.inputs)))
        futures = [(uri, extractor.submit(uri, list(resize.values()))) for uri in args.inputs]
        for index, (uri, future) in enumerate(futures):
            started = datetime.now(UTC)
            common: dict[str, Any] = {
                "video_id": _video_id(uri), "source": SourceRef("scan", 0, index),
                "policy_version": settings.policy.version, "run_id": "scan",
            }
            try:
                keyframes = future.result()
                scores = {name: scorer.scores(keyframes.frames[resize[name]])
                          for name, scorer in scorers.items()}
                texts = {i: lines for scorer in scorers.values()
                         for i, lines in enumerate(
                             scorer.texts(keyframes.frames[resize[scorer.spec.name]]) or [])}
            except MediaError as exc:
                decision = unprocessable(exc.reason, str(exc))
                record = verdict_record(**common, decision=decision,
                                        models={n: s.version for n, s in scorers.items()},
                                        keyframes_analyzed=0, duration_s=None,
                                        processed_at=datetime.now(UTC), latency_s=None)
            except InferenceError as exc:
                raise UserError(f"inference failed for {uri}: {exc}") from exc
            else:
                result = assess(keyframes, scores, {n: s.spec for n, s in scorers.items()},
                                settings.policy,
                                known=known.match(keyframes.hashes, keyframes.pts_s),
                                texts=texts, text_rules=text_rules,
                                music=music.match(keyframes.audio_fingerprints)
                                if music is not None else (),
                                music_enforced=music is not None and music.enforcing)
                now = datetime.now(UTC)
                record = verdict_record(**common, decision=result.decision,
                                        models={n: s.version for n, s in scorers.items()},
                                        keyframes_analyzed=len(keyframes.pts_s),
                                        duration_s=keyframes.probe.duration_s,
                                        processed_at=now,
                                        latency_s=(now - started).total_seconds(),
                                        coverage=keyframes.coverage.as_json()
                                        if keyframes.coverage else None)
                if args.tags:
                    record["tags"] = {"labels": [vars(t) for t in result.labels],
                                      "technical": result.technical, "frames": result.frames,
                                      "text": result.text, "music": result.music}
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
    scan.set_defaults(handler=_scan, decodes_video=True)
