"""`vmc dev up | down | status`: the real local stack on loopback."""

from __future__ import annotations

import argparse
import importlib.util
import json
import shlex
import sys
from typing import TYPE_CHECKING, Any

from consumer.cli import UserError
from consumer.settings import Settings

if TYPE_CHECKING:
    from devstack.stack import DevStack, SecuredKafka


def _require_devstack() -> None:
    """The runtime image ships the service only: say so instead of a traceback."""
    if importlib.util.find_spec("devstack") is None:
        raise UserError("the local dev stack is not part of this install (the runtime image "
                        "ships the service only): run `vmc dev` from a source checkout")


def _stack(args: argparse.Namespace, settings: Settings, *, up: bool = False) -> DevStack:
    """The stack of dev.state_dir; `up` asks for the opt-in parts its flags name, any other
    subcommand takes those of the stack's last `up`."""
    _require_devstack()
    from devstack.stack import DevStack, StackOptions

    options = StackOptions(secured_kafka=args.secured,
                           object_stores=args.object_stores) if up else None
    return DevStack(settings.dev, settings.kafka.topics, settings.metrics.port,
                    options=options, ttl_s=getattr(args, "ttl", None))


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def _secured_line(secured: SecuredKafka) -> str:
    """The SASL_SSL listener for people: where, how, and the files (never the password)."""
    return (f"{'kafka-sasl':<11} {secured.bootstrap:<24} SASL_SSL {secured.mechanism} user "
            f"{secured.username}; CA {secured.ca_location}; password in {secured.password_file}")


def _up(args: argparse.Namespace, settings: Settings) -> int:
    stack = _stack(args, settings, up=True)
    addresses = stack.up(log=_say)
    for name, value in addresses.env().items():
        print(f"{name}={value}")
    secured = stack.secured_kafka()
    if secured is not None:
        _say(_secured_line(secured))
        _say('its settings: eval "$(vmc dev status --env --secured)"')
    return 0


def _down(args: argparse.Namespace, settings: Settings) -> int:
    stopped = _stack(args, settings).down()
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def _status(args: argparse.Namespace, settings: Settings) -> int:
    stack = _stack(args, settings)
    parts = stack.status()
    up = all(part.healthy for part in parts)
    secured = stack.secured_kafka()
    if args.env:
        if not up:
            raise UserError("the dev stack is not up (run: vmc dev up)")
        env = {k: shlex.quote(v) for k, v in stack.addresses().env().items()}
        if args.secured:
            if secured is None:
                raise UserError("the dev stack has no SASL_SSL listener "
                                "(run: vmc dev up --secured)")
            # The password is read from its file by the shell that evaluates this, so it is
            # never printed.
            reader = f'"$(cat {shlex.quote(str(secured.password_file))})"'
            env |= {k: v if k.endswith("_PASSWORD") else shlex.quote(v)
                    for k, v in secured.env(password=reader).items()}
        for name, value in env.items():
            print(f"export {name}={value}")
        return 0
    for part in parts:
        state = "healthy" if part.healthy else ("running, not ready" if part.running else "down")
        print(f"{part.name:<11} {part.address:<24} {state:<18} {part.log}")
    if secured is not None:
        print(_secured_line(secured))
    return 0 if up else 1


def _fetch(args: argparse.Namespace, settings: Settings) -> int:
    _require_devstack()
    from devstack.kafka import fetch_kafka_jars

    libs = fetch_kafka_jars(settings.dev.cache_dir, settings.dev.kafka_version)
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

    outputs = run_demo(settings, say=lambda msg: print(msg, file=sys.stderr))
    tags = {record["video_id"]: record for record in outputs["tags"]}
    for verdict in sorted(outputs["verdicts"], key=lambda r: r["video_id"]):
        tag = tags.get(verdict["video_id"], {})
        visual = tag.get("visual", {})  # the top classes by peak score, and the coarse words
        print(json.dumps({
            "video_id": verdict["video_id"], "verdict": verdict["verdict"],
            "reasons": verdict["reasons"], "scores": verdict["scores"],
            "labels": [(t["label"], t["score"], t["coverage"]) for t in tag.get("labels", [])],
            "text": [t["text"] for t in tag.get("text", [])],
            "visual": [(v["label"], v["peak"]) for v in visual.get("labels", [])[:3]],
            "visual_words": [v["label"] for v in visual.get("coarse", [])],
            "music": [(m["track_id"], m["start_s"], m["end_s"]) for m in tag.get("music", [])],
            "speech": tag.get("speech"),
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
                        "VMC_* addresses; a stack running with other options is restarted")
    up.add_argument("--ttl", type=float, metavar="SECONDS",
                    help="servers stop by themselves after this long "
                    "(default dev.ttl_s, 12 h)")
    up.add_argument("--secured", action="store_true",
                    help="a second broker listener, SASL_SSL with SCRAM-SHA-512: a CA, a "
                    "certificate and a random password made once in the state folder")
    up.add_argument("--object-stores", action="store_true",
                    help="also s3proxy (S3 API) and fake-gcs-server (GCS API) on folders; "
                    "the first time fetches s3proxy and builds fake-gcs-server (Go)")
    up.set_defaults(handler=_up)
    down = sub.add_parser("down", help="stop exactly the processes `up` started")
    down.set_defaults(handler=_down)
    status = sub.add_parser("status", help="each part, its address and health (exit 1 unless "
                            "all are healthy)")
    status.add_argument("--env", action="store_true",
                        help="print export lines for eval: VMC_KAFKA__BOOTSTRAP_SERVERS, "
                        "VMC_TRITON__URL, VMC_TRITON__METRICS_URL, VMC_PROMETHEUS_URL")
    status.add_argument("--secured", action="store_true",
                        help="with --env: the SASL_SSL listener's address and the five "
                        "VMC_KAFKA__CLIENT__* settings (the password is read from its file)")
    status.set_defaults(handler=_status)
    fetch = sub.add_parser("fetch", help="download the Kafka jars into dev.cache_dir (once)")
    fetch.set_defaults(handler=_fetch)
    smoke = sub.add_parser("smoke", help="push one upload event through the stack: produce, "
                           "read back, infer on Triton's smoke model; print JSON")
    smoke.set_defaults(handler=_smoke)
    demo = sub.add_parser("demo", help="end to end on the local stack: sample videos -> upload "
                          "events -> the consumer -> verdicts and tags, printed; the stack is "
                          "left as it was")
    demo.set_defaults(handler=_demo, decodes_video=True)
