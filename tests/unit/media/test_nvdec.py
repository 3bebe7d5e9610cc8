"""GPU node mode's seams, without a GPU: which videos NVDEC takes, the decoder cache, the
packet decoder's rules (intra vs forward decoders, leftovers dropped, failures mapped), the CPU
fallback of a video NVDEC failed on, and the one-line start-up error."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import av
import pytest
import torch
from pydantic import ValidationError

from consumer.errors import NvdecUnavailable
from consumer.media import nvdec
from consumer.media.extract import extract_keyframes
from consumer.media.resize import ResizeSpec
from consumer.media.workers import KeyframeExtractor
from consumer.settings import Settings, SourceSettings
from tests.unit.media.configs import decode_config
from tests.unit.media.videos import make_video

LOCAL = SourceSettings(allowed_schemes=["file"])


class FakeFrame:
    def __init__(self, pts: int) -> None:
        self._pts = pts
        self._tensor = torch.full((6, 4), pts % 256, dtype=torch.uint8)

    def getPTS(self) -> int:  # noqa: N802 - PyNvVideoCodec's name
        return self._pts

    def __dlpack__(self, **kwargs: Any) -> Any:
        return self._tensor.__dlpack__(**kwargs)

    def __dlpack_device__(self) -> Any:
        return self._tensor.__dlpack_device__()


class FakeCore:
    """Returns each picture at once; `held` pictures come out at the next call (a leftover)."""

    def __init__(self, latency: str, fail: bool = False) -> None:
        self.latency = latency
        self.fail = fail
        self.calls: list[tuple[int, Any]] = []
        self.held: list[FakeFrame] = []

    def Decode(self, item: SimpleNamespace) -> list[FakeFrame]:  # noqa: N802
        if self.fail:
            raise RuntimeError("CUDA_ERROR_ILLEGAL_ADDRESS")
        self.calls.append((item.bsl, getattr(item, "decode_flag", None)))
        out, self.held = self.held, []
        return out if item.bsl == 0 else [*out, FakeFrame(item.pts)]


def _fake_nvc(fail: bool = False) -> tuple[SimpleNamespace, list[FakeCore]]:
    cores: list[FakeCore] = []

    def create(**kwargs: Any) -> FakeCore:
        cores.append(FakeCore(kwargs["latency"], fail))
        return cores[-1]

    module = SimpleNamespace(
        CreateDecoder=create, PacketData=SimpleNamespace,
        cudaVideoCodec=SimpleNamespace(H264="h264", HEVC="hevc"),
        OutputColorType=SimpleNamespace(NATIVE="nv12"),
        DisplayDecodeLatencyType=SimpleNamespace(LOW="low", NATIVE="native"),
        VideoPacketFlag=SimpleNamespace(ENDOFPICTURE="eop", ENDOFSTREAM="eos"))
    return module, cores


@pytest.fixture
def fake_nvc(monkeypatch: pytest.MonkeyPatch) -> list[FakeCore]:
    module, cores = _fake_nvc()
    monkeypatch.setattr(nvdec, "_nvc", lambda: module)
    return cores


@pytest.mark.parametrize(("kwargs", "reason"), [
    ({"width": 640, "height": 360}, None),
    ({"codec": "libvpx-vp9"}, "codec"),
    ({"width": 40, "height": 32}, "size"),
    ({"pix_fmt": "yuv444p"}, "pixel_format"),
])
def test_nvdec_takes_8_bit_420_h264_and_hevc_within_its_sizes(
        tmp_path: Path, kwargs: dict[str, Any], reason: str | None) -> None:
    path = make_video(tmp_path / ("v.webm" if "codec" in kwargs else "v.mp4"),
                      **{"width": 128, "height": 96, **kwargs})
    with av.open(str(path)) as container:
        assert nvdec.fallback_reason(container.streams.video[0]) == reason


def test_the_cache_keeps_one_decoder_per_codec_size_and_mode_least_recent_out(
        fake_nvc: list[FakeCore]) -> None:
    cache = nvdec.DecoderCache(gpu_id=0, size=2)
    first = cache.get("h264", 640, 360, intra=True)
    assert cache.get("h264", 640, 360, intra=True) is first and cache.created == 1
    assert first.latency == "low" and cache.get("h264", 640, 360, intra=False).latency == "native"
    cache.get("hevc", 1280, 720, intra=True)  # third: the least recently used goes
    assert cache.get("h264", 640, 360, intra=True) is not first
    assert cache.created == 4
    cache.discard("h264", 640, 360)
    cache.get("h264", 640, 360, intra=True)
    assert cache.created == 5


def _stream_packets(path: Path) -> tuple[Any, Any, list[Any]]:
    container = av.open(str(path))
    stream = container.streams.video[0]
    return container, stream, [p for p in container.demux(stream) if p.size]


def test_keyframes_go_to_the_intra_decoder_marked_end_of_picture_and_forward_to_native(
        tmp_path: Path, fake_nvc: list[FakeCore]) -> None:
    container, stream, packets = _stream_packets(make_video(tmp_path / "v.mp4", width=64,
                                                            height=48, frames=20, gop=5))
    with container:
        decoder = nvdec.NvdecDecoder(stream, nvdec.DecoderCache(0, 4))
        intra, native = fake_nvc
        intra.calls.clear()
        native.calls.clear()
        key = next(p for p in packets if p.is_keyframe)
        stamp = key.pts
        pictures = decoder.send(key)
        assert [p.pts for p in pictures] == [stamp]
        assert intra.calls[-1][1] == "eop" and not native.calls
        decoder.skip_nonref(False)  # forward decoding begins
        assert intra.calls[-1] == (0, "eos")  # the intra decoder was drained first
        decoder.send(packets[1])
        assert native.calls and native.calls[-1][1] is None
        decoder.reset()
        assert native.calls[-1] == (0, "eos")
        later = [p for p in packets if p.is_keyframe][1]  # a sent packet is consumed
        decoder.send(later)
        assert intra.calls[-1][1] == "eop"


def test_a_leftover_picture_of_an_earlier_stream_is_dropped(
        tmp_path: Path, fake_nvc: list[FakeCore]) -> None:
    container, stream, packets = _stream_packets(make_video(tmp_path / "v.mp4", width=64,
                                                            height=48, frames=10, gop=5))
    with container:
        decoder = nvdec.NvdecDecoder(stream, nvdec.DecoderCache(0, 4))
        intra = fake_nvc[0]
        intra.held = [FakeFrame(987654)]  # a picture of the previous video, come out late
        key = next(p for p in packets if p.is_keyframe)
        stamp = key.pts
        assert [p.pts for p in decoder.send(key)] == [stamp]


def test_a_failing_nvdec_is_redone_on_the_cpu_with_its_reason(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module, _ = _fake_nvc(fail=True)
    monkeypatch.setattr(nvdec, "_nvc", lambda: module)
    monkeypatch.setattr(nvdec, "decoder_cache", lambda gpu_id, size: nvdec.DecoderCache(0, 4))
    path = make_video(tmp_path / "v.mp4", width=128, height=96, frames=20)
    specs = [ResizeSpec(64, "pad")]
    gpu = decode_config(decode="nvdec")
    result = extract_keyframes(str(path), specs, gpu, LOCAL)
    cpu = extract_keyframes(str(path), specs, decode_config(), LOCAL)
    assert (result.device, result.fallback) == ("cpu", "nvdec_error")
    assert result.pts_s == cpu.pts_s
    assert (result.frames[specs[0]] == cpu.frames[specs[0]]).all()


def test_a_video_nvdec_cannot_take_is_decoded_on_the_cpu_with_the_reason(
        tmp_path: Path) -> None:
    path = make_video(tmp_path / "v.webm", codec="libvpx-vp9", width=64, height=48)
    result = extract_keyframes(str(path), [ResizeSpec(32, "pad")],
                               decode_config(decode="nvdec"), LOCAL)
    assert (result.device, result.fallback) == ("cpu", "codec")


def test_start_up_without_the_gpu_extra_or_a_gpu_fails_in_one_line(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(NvdecUnavailable) as caught:
        KeyframeExtractor(decode_config(decode="nvdec"), LOCAL)
    message = str(caught.value)
    assert "\n" not in message and "gpu.decode=nvdec" in message
    assert "[gpu]" in message or "CUDA device 0" in message


def test_a_node_needs_at_least_one_decode_worker() -> None:
    with pytest.raises(ValidationError, match="no decode worker"):
        Settings(workers={"count": 0})
    gpu_only = Settings(workers={"count": 0}, gpu={"decode": "nvdec", "nvdec_workers": 2})
    assert gpu_only.workers.count == 0


def test_frames_kept_on_the_device_are_the_pixels_the_host_path_gets() -> None:
    width, height = 64, 48
    nv12 = torch.randint(0, 256, (height * 3 // 2, width), dtype=torch.uint8)
    picture = nvdec.GpuPicture(pts=0, width=width, height=height, nv12=nv12)
    spec = ResizeSpec(32, "pad")
    on_host = nvdec.GpuResize(90, nvdec.Colour())(picture, spec, 90)
    kept = nvdec.GpuResize(90, nvdec.Colour(), on_device=True)(picture, spec, 90)
    assert isinstance(kept, torch.Tensor) and kept.is_contiguous()
    assert kept.device == nv12.device
    assert (kept.numpy() == on_host).all()
