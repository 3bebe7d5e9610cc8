"""The end-to-end demo on the local stack: sample videos -> events -> `vmc run` -> outputs.

It brings the stack up if needed (and down again if it was not up), makes a few videos, sends
them as upload events to demo topics of their own, runs the real pipeline until every video
has its verdict and tags, and returns those records.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import numpy as np

from consumer.logs import kafka_logged
from consumer.media.frame_hash import pdq_hash
from consumer.settings import KafkaTopics, Settings, load_settings
from consumer.signals import instances
from consumer.signals.music.catalogue import build_catalogue, save_catalogue
from devstack.kafka import create_topics, topic_configs, topic_layout
from devstack.samples import (
    add_soundtrack,
    make_still_video,
    make_video,
    synth_track,
    write_audio,
)
from devstack.stack import DevStack, StackAddresses

KNOWN_LIST = "known-content.csv"  # hash list of the demo's known content
CATALOGUE = "music.vmccat"  # the demo's music catalogue: one generated track


def _music_video(folder: Path) -> Path:
    """A clip whose soundtrack is 20 s of the catalogue's track, from its 10th second, after
    2 s of silence; and the catalogue, built from the whole track."""
    track = synth_track(seed=11, seconds=40)
    reference = folder / "catalogue"
    reference.mkdir(exist_ok=True)
    write_audio(reference / "demo-track-1.m4a", track)
    save_catalogue(build_catalogue(reference), folder / CATALOGUE)
    silence = np.zeros(2 * 44100, np.float32)
    soundtrack = np.concatenate([silence, track[10 * 44100:30 * 44100], silence])
    clip = make_video(folder / "music-frames.mp4", seconds=24, width=320, height=240, seed=3)
    return add_soundtrack(clip, soundtrack, folder / "music.mp4")


def _speech_video(folder: Path) -> Path | None:
    """A clip whose soundtrack is two spoken sentences (espeak-ng) between silences; None
    without espeak-ng."""
    import shutil
    import subprocess

    espeak = shutil.which("espeak-ng")
    if espeak is None:
        return None
    wav = folder / "speech.wav"
    subprocess.run([espeak, "-v", "en-us", "-s", "160", "-w", str(wav),
                    "Welcome to the demo. This upload has a short spoken sentence."],
                   check=True, capture_output=True)
    with av.open(str(wav)) as container:
        rate = container.streams.audio[0].rate
        voice = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
    voice = voice.astype(np.float32) / 32768 if voice.dtype == np.int16 else voice
    silence = np.zeros(int(1.5 * rate), np.float32)
    soundtrack = np.concatenate([silence, voice.astype(np.float32), silence])
    clip = make_video(folder / "speech-frames.mp4", seconds=6, width=320, height=240, seed=5)
    return add_soundtrack(clip, soundtrack, folder / "speech.mp4", rate=rate)


def sample_videos(folder: Path) -> dict[str, Path]:
    """A photo of a person, a cropped and resized copy of it (its PDQ hash is on the demo's
    known-content list), a caption with a web address, a noisy clip, a black clip, a clip
    whose soundtrack plays a track of the demo's music catalogue, and a file that is not a
    video."""
    folder.mkdir(parents=True, exist_ok=True)
    videos = {"noise": make_video(folder / "noise.mp4", seconds=4, width=320, height=240),
              "black": make_still_video(folder / "black.mp4",
                                        np.zeros((240, 320, 3), np.uint8))}
    try:
        from skimage import data

        photo = np.asarray(data.astronaut(), dtype=np.uint8)  # type: ignore[no-untyped-call]
        videos["astronaut"] = make_still_video(folder / "astronaut.mp4", photo)
        copy = av.VideoFrame.from_ndarray(np.ascontiguousarray(photo[5:-5, 5:-5]),
                                          format="rgb24").reformat(640, 360, "rgb24")
        videos["astronaut-copy"] = make_still_video(folder / "astronaut-copy.mp4",
                                                    np.asarray(copy.to_ndarray(), np.uint8))
        (folder / KNOWN_LIST).write_text(f"hash,label\n{pdq_hash(photo).pdq},demo-case-1\n")
        cat = np.asarray(data.chelsea(), dtype=np.uint8)[:, :450]  # type: ignore[no-untyped-call]
        videos["cat"] = make_still_video(folder / "cat.mp4", cat)  # and a cat: visual tags
    except ImportError:
        pass
    try:
        from PIL import Image, ImageDraw, ImageFont

        image = Image.new("RGB", (640, 360), (20, 40, 80))
        font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", 28)
        ImageDraw.Draw(image).text((30, 150), "Visit www.example.com today", font=font,
                                   fill=(255, 255, 255))
        videos["caption"] = make_still_video(folder / "caption.mp4",
                                             np.asarray(image, np.uint8))
    except (ImportError, OSError):  # no Pillow or no DejaVu font: no text sample
        pass
    videos["music"] = _music_video(folder)
    speech = _speech_video(folder)
    if speech is not None:
        videos["speech"] = speech
    broken = folder / "broken.mp4"
    broken.write_bytes(b"<html>not a video</html>")
    videos["broken"] = broken
    return videos


def _demo_settings(base: Settings, addresses: StackAddresses, topics: KafkaTopics,
                   group: str, folder: Path) -> Settings:
    data = base.model_dump()
    data["kafka"].update(bootstrap_servers=addresses.kafka_bootstrap, group_id=group,
                         topics=topics.model_dump())
    data["triton"].update(url=addresses.triton_grpc)
    # The demo reads files it made itself; events from elsewhere never get `file`.
    data["source"]["allowed_schemes"] = [*base.source.allowed_schemes, "file"]
    data["sampling"]["max_keyframes"] = 4
    # Every signal (their sections as validated, defaults filled): on-screen text too, with a
    # rule for web addresses.
    signals = data["signals"] = {s.name: s.section.model_dump() for s in instances(base)}
    data["pipeline"]["models"] = list(dict.fromkeys([*base.pipeline.models, "ocr",
                                                     "visual_tagger"]))
    signals["text"]["rules"].append({
        "name": "demo-urls", "pattern": r"\b(?:https?://|www\.)\S+", "action": "review"})
    if (folder / KNOWN_LIST).exists():
        signals["known_content"]["lists"].append({
            "name": "demo-known", "path": str(folder / KNOWN_LIST), "action": "review"})
    if (folder / CATALOGUE).exists():
        signals["music"]["catalogues"].append({
            "name": "demo-music", "path": str(folder / CATALOGUE), "action": "tag"})
    try:  # speech tags and the content kind, where the silero-vad package is installed
        from consumer.signals.speech.vad import shipped_model

        shipped_model()
        signals["speech"]["enabled"] = True
    except ModuleNotFoundError:
        pass
    return load_settings(**data)


def _collect(settings: Settings, topic: str, count: int, timeout_s: float) -> list[Any]:
    from confluent_kafka import Consumer

    consumer = Consumer(kafka_logged({
        "bootstrap.servers": settings.kafka.bootstrap_servers,
        "group.id": f"{settings.kafka.group_id}-reader-{topic}",
        "auto.offset.reset": "earliest", "enable.auto.commit": False}))
    consumer.subscribe([topic])
    records: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(records) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            value = msg.value() if msg is not None and not msg.error() else None
            if value:
                records.append(json.loads(value))
    finally:
        consumer.close()
    return records


def send_events(bootstrap: str, topic: str, videos: dict[str, Path],
                timeout_s: float = 30) -> int:
    """One upload event per video (its file:// URI); returns how many were not delivered."""
    from confluent_kafka import Producer

    producer = Producer(kafka_logged({"bootstrap.servers": bootstrap,
                                      "enable.idempotence": True}))
    for video_id, path in videos.items():
        event = {"video_id": video_id, "uri": path.as_uri(),
                 "uploaded_at": datetime.now(UTC).isoformat(), "content_type": "video/mp4"}
        producer.produce(topic, key=video_id, value=json.dumps(event))
    return int(producer.flush(timeout_s))


def run_demo(settings: Settings, say: Callable[[str], None],
             timeout_s: float = 300) -> dict[str, list[Any]]:
    """Run the demo; returns the verdict and tag records. The stack is left as it was."""
    from consumer.wiring import build_pipeline

    stack = DevStack(settings.dev, settings.kafka.topics, settings.metrics.port)
    was_up = all(part.healthy for part in stack.status())
    addresses = stack.up(log=say)
    try:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        topics = KafkaTopics(input=f"demo-{stamp}.uploads", verdicts=f"demo-{stamp}.verdicts",
                             tags=f"demo-{stamp}.tags", dlq=f"demo-{stamp}.dlq")
        create_topics({"bootstrap.servers": addresses.kafka_bootstrap}, topic_layout(topics),
                      topic_configs(topics))
        folder = settings.dev.state_dir / "demo-videos"
        videos = sample_videos(folder)
        demo = _demo_settings(settings, addresses, topics, group=f"demo-{stamp}", folder=folder)
        send_events(addresses.kafka_bootstrap, topics.input, videos)
        say(f"produced {len(videos)} upload events to {topics.input}; running the consumer")
        with contextlib.ExitStack() as resources:
            pipeline = build_pipeline(demo, resources)
            thread = threading.Thread(target=pipeline.run, name="pipeline", daemon=True)
            thread.start()
            try:
                verdicts = _collect(demo, topics.verdicts, len(videos), timeout_s)
                tags = _collect(demo, topics.tags, len(videos) - 1, 30)
            finally:
                pipeline.request_stop()
                thread.join(60)
        return {"verdicts": verdicts, "tags": tags}
    finally:
        if not was_up:
            stack.down()
            say("stack stopped (it was not up before the demo)")
