"""`vmc dev up | down | status`: the real local stack on loopback."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from typing import TYPE_CHECKING, Any

from consumer.cli import UserError
from consumer.settings import Settings

if TYPE_CHECKING:
    from devstack.stack import DevStack


def _require_devstack() -> None:
    """The runtime image ships the service only: say so instead of a traceback."""
    if importlib.util.find_spec("devstack") is None:
        raise UserError("the local dev stack is not part of this install (the runtime image "
                        "ships the service only): run `vmc dev` from a source checkout")


def _stack(args: argparse.Namespace, settings: Settings) -> DevStack:
    _require_devstack()
    from devstack.stack import DevStack

    return DevStack(settings.dev, settings.kafka.topics, settings.metrics.port,
                    ttl_s=getattr(args, "ttl", None))


def _up(args: argparse.Namespace, settings: Settings) -> int:
    from devstack.process import StackError

    try:
        addresses = _stack(args, settings).up(log=lambda msg: print(msg, file=sys.stderr))
    except StackError as exc:
        raise UserError(str(exc)) from exc
    for name, value in addresses.env().items():
        print(f"{name}={value}")
    return 0


def _down(args: argparse.Namespace, settings: Settings) -> int:
    stopped = _stack(args, settings).down()
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def _status(args: argparse.Namespace, settings: Settings) -> int:
    stack = _stack(args, settings)
    parts = stack.status()
    up = all(part.healthy for part in parts)
    if args.env:
        if not up:
            raise UserError("the dev stack is not up (run: vmc dev up)")
        for name, value in stack.addresses().env().items():
            print(f"export {name}={value}")
        return 0
    for part in parts:
        state = "healthy" if part.healthy else ("running, not ready" if part.running else "down")
        print(f"{part.name:<11} {part.address:<24} {state:<18} {part.log}")
    return 0 if up else 1


def _fetch(args: argparse.Namespace, settings: Settings) -> int:
    _require_devstack()
    from devstack.kafka import fetch_kafka_jars
    from devstack.process import StackError

    try:
        libs = fetch_kafka_jars(settings.dev.cache_dir, settings.dev.kafka_version)
    except StackError as exc:
        raise UserError(str(exc)) from exc
    print(libs)
    return 0


def _smoke(args: argparse.Namespace, settings: Settings) -> int:
    _require_devstack()
    from devstack.smoke import run_smoke

    try:
        print(json.dumps(run_smoke(settings)))
    except Exception as exc:
        raise UserError(f"smoke path failed: {exc}") from exc
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    _require_devstack()
    from devstack.demo import run_demo
    from devstack.process import StackError

    try:
        outputs = run_demo(settings, say=lambda msg: print(msg, file=sys.stderr))
    except StackError as exc:
        raise UserError(str(exc)) from exc
    tags = {record["video_id"]: record for record in outputs["tags"]}
    for verdict in sorted(outputs["verdicts"], key=lambda r: r["video_id"]):
        tag = tags.get(verdict["video_id"], {})
        print(json.dumps({
            "video_id": verdict["video_id"], "verdict": verdict["verdict"],
            "reasons": verdict["reasons"], "scores": verdict["scores"],
            "labels": [(t["label"], t["score"], t["coverage"]) for t in tag.get("labels", [])],
            "text": [t["text"] for t in tag.get("text", [])],
            "technical": tag.get("technical"), "latency_s": verdict["latency_s"],
        }))
    return 0 if outputs["verdicts"] else 1


def register(commands: Any) -> None:
    dev = commands.add_parser(
        "dev", help="a real local stack: Kafka broker, tritonserver, Prometheus on loopback",
        description="Manage the local stack in dev.state_dir (VMC_DEV__STATE_DIR). Kafka comes "
        "from Maven Central jars (fetched once with mvn), tritonserver from the nvidia-pytriton "
        "wheel, Prometheus from the Debian package. Every server binds 127.0.0.1 and stops by "
        "itself after --ttl.",
    )
    sub = dev.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
    up = sub.add_parser("up", help="start the stack (idempotent), create the topics, print the "
                        "VMC_* addresses")
    up.add_argument("--ttl", type=float, metavar="SECONDS",
                    help="servers stop by themselves after this long "
                    "(default dev.ttl_s, 12 h)")
    up.set_defaults(handler=_up)
    down = sub.add_parser("down", help="stop exactly the processes `up` started")
    down.set_defaults(handler=_down)
    status = sub.add_parser("status", help="each part, its address and health (exit 1 unless "
                            "all are healthy)")
    status.add_argument("--env", action="store_true",
                        help="print export lines for eval: VMC_KAFKA__BOOTSTRAP_SERVERS, "
                        "VMC_TRITON__URL, VMC_TRITON__METRICS_URL, VMC_PROMETHEUS_URL")
    status.set_defaults(handler=_status)
    fetch = sub.add_parser("fetch", help="download the Kafka jars into dev.cache_dir (once)")
    fetch.set_defaults(handler=_fetch)
    smoke = sub.add_parser("smoke", help="push one upload event through the stack: produce, "
                           "read back, infer on Triton's smoke model; print JSON")
    smoke.set_defaults(handler=_smoke)
    demo = sub.add_parser("demo", help="end to end on the local stack: sample videos -> upload "
                          "events -> the consumer -> verdicts and tags, printed; the stack is "
                          "left as it was")
    demo.set_defaults(handler=_demo)
