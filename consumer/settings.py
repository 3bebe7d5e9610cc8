"""The one typed configuration of the service.

Built once at start-up (`load_settings`) from, highest priority first: explicit values,
`VMC_*` environment variables (nested with `__`), an optional TOML file (`--config` or
`VMC_CONFIG`), the addresses of a running local dev stack, then defaults. Every other module
receives these objects; none reads the environment itself.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from consumer.errors import ConfigError
from consumer.policy_settings import PolicySettings
from consumer.renamed_settings import renamed_in
from consumer.review_settings import ReviewSettings

ENV_PREFIX = "VMC_"
ENV_NESTED_DELIMITER = "__"
CONFIG_FILE_ENV = "VMC_CONFIG"
DEV_STATE_DIR_ENV = "VMC_DEV__STATE_DIR"

__all__ = ["PolicySettings"]  # re-exported from consumer.policy_settings

_SECRET_KEY = re.compile(r"(password|secret|token|credential|jaas|\.key\.pem|private)", re.I)


class Section(BaseModel):
    """A settings section: unknown keys are typos, and typos fail at start."""

    model_config = ConfigDict(extra="forbid")


class KafkaTopics(Section):
    """Topic names: the upload events read, and the three outputs written."""

    input: str = "video.uploads"
    verdicts: str = "video.moderation.verdicts"
    tags: str = "video.content.tags"
    dlq: str = "video.uploads.dlq"
    signals: str = Field("video.moderation.signals", description="every verdict's per-frame "
                         "evidence, compacted, keyed by video (`vmc backtest` reads it)")
    review: str = "video.moderation.review"  # review tasks (consumer.review.tasks)
    decisions: str = "video.moderation.decisions"  # reviewers' decisions, read by vmc decisions
    embeddings: str = Field("video.content.embeddings", description="one image embedding "
                            "per video (float16, keyed by video) for search and recommendation")


class KafkaSettings(Section):
    """Broker connection; `client` is passed straight to librdkafka (SASL, SSL, OAUTHBEARER)."""

    bootstrap_servers: str = "127.0.0.1:9092"
    group_id: str = "video-moderation"
    transactional_id: str | None = Field(
        None, description="exactly-once mode: stable per instance (e.g. the pod name); "
        "default group id + host name")
    topics: KafkaTopics = KafkaTopics()
    client: dict[str, str | SecretStr] = Field(
        default_factory=dict,
        description="librdkafka properties; env keys use '_' for '.', e.g. "
        "VMC_KAFKA__CLIENT__SASL_PASSWORD -> sasl.password",
    )

    @field_validator("client", mode="before")
    @classmethod
    def _normalise_client(cls, raw: Any) -> dict[str, str | SecretStr]:
        """Env keys arrive lower-case with '_' (librdkafka names use '.'); hide secrets."""
        if not isinstance(raw, Mapping):
            raise ValueError("must be a mapping of librdkafka property -> value")
        out: dict[str, str | SecretStr] = {}
        for key, value in raw.items():
            name = str(key).lower().replace("_", ".")
            text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
            out[name] = SecretStr(text) if _SECRET_KEY.search(name) else text
        return out

    def librdkafka_config(self) -> dict[str, str | int | float | bool]:
        """The client properties with real secret values, for confluent-kafka only."""
        cfg: dict[str, str | int | float | bool] = {
            k: v.get_secret_value() if isinstance(v, SecretStr) else v
            for k, v in self.client.items()
        }
        cfg["bootstrap.servers"] = self.bootstrap_servers
        return cfg


class TritonSettings(Section):
    """Where the inference server is and how long to wait for it."""

    url: str = "127.0.0.1:8001"
    protocol: Literal["grpc", "http"] = "grpc"
    timeout_s: float = Field(10.0, gt=0, description="a request with no answer by then is "
                             "given up (and dropped from Triton's queue)")
    video_attempts: int = Field(
        2, ge=1, description="timeouts a video's rows may meet while Triton answers (the "
        "2nd and later in a batch of their own) before that model gives up on the video: "
        "`review`, model_budget_exceeded")
    metrics_url: str = "http://127.0.0.1:8002/metrics"
    breaker_failures: int = Field(3, gt=0)
    breaker_reset_s: float = Field(5.0, gt=0)
    retry_base_s: float = Field(0.2, gt=0)
    retry_cap_s: float = Field(5.0, gt=0)
    shared_memory: Literal["none", "cuda"] = Field(
        "none", description="`cuda`: batches reach Triton through CUDA shared memory on "
        "gpu.id, one region per batch in flight, registered once; frames NVDEC decoded "
        "never leave the card (Triton must run on that GPU). `none`: uint8 over gRPC")


class DecodeSettings(Section):
    """Limits on each video: hostile or huge media must not take a worker down."""

    max_bytes: int = Field(2 * 1024**3, gt=0)
    max_duration_s: float = Field(4 * 3600.0, gt=0)
    max_pixels: int = Field(8192 * 8192, gt=0)
    max_streams: int = Field(16, gt=0)
    max_decoded_frames: int = Field(
        4000, gt=0, description="frames decoded forward per video where keyframes are too "
        "sparse for coverage; beyond it the verdict is `review` (incomplete_coverage)")
    timeout_s: float = Field(60.0, gt=0)
    memory_limit_mb: int = Field(2048, gt=0)


class SamplingSettings(Section):
    """Which frames of a video are looked at: how many, how far apart, read how."""

    max_keyframes: int = Field(16, gt=0)
    min_interval_s: float = Field(1.0, ge=0)
    mode: Literal["auto", "scan", "seek"] = "auto"


class WorkerSettings(Section):
    """The pool of killable decode processes and the queue in front of it."""

    count: int = Field(2, ge=0, description="CPU decode worker processes (0 only in GPU "
                       "node mode, for a node that decodes on NVDEC alone)")
    queue_size: int = Field(64, gt=0)
    threads: int = Field(2, ge=0, description="decoder threads per worker (0: one per core)")


class GpuSettings(Section):
    """GPU node mode: decoding on NVDEC, and the card it and CUDA shared memory use."""

    decode: Literal["cpu", "nvdec"] = Field(
        "cpu", description="`nvdec`: GPU node mode, `nvdec_workers` more workers decode the "
        "sampled packets on the GPU's NVDEC and resize there (extra `[gpu]`); videos NVDEC "
        "cannot take fall back to the CPU path in the same worker")
    id: int = Field(0, ge=0, description="the CUDA device NVDEC workers decode on, and "
                    "where triton.shared_memory=cuda places the batch slots")
    nvdec_workers: int = Field(4, ge=0, description="worker processes decoding on NVDEC, "
                               "beside the `workers.count` CPU ones; each owns a CUDA context")
    nvdec_decoders: int = Field(4, gt=0, description="NVDEC decoders each NVDEC worker keeps "
                                "for reuse across videos (one per codec and frame size)")


class SourceSettings(Section):
    """Where media may be read from: FFmpeg never opens a URL itself, this client does."""

    allowed_schemes: list[str] = ["http", "https", "gs", "s3"]
    allowed_hosts: list[str] = []
    allowed_networks: list[str] = []
    connect_timeout_s: float = Field(5.0, gt=0)
    read_timeout_s: float = Field(20.0, gt=0)
    max_redirects: int = Field(3, ge=0)
    range_chunk_bytes: int = Field(1024 * 1024, gt=0)
    s3_endpoint_url: str | None = Field(
        None, description="an S3-compatible endpoint (MinIO, s3proxy, a VPC endpoint); a "
        "network destination like any other: the source policy must allow its address")
    gcs_endpoint_url: str | None = Field(None, description="a GCS-compatible endpoint")
    gcs_token: str | None = Field(
        None, description="gcsfs token: unset for Application Default Credentials (workload "
        "identity), `anon` for a public or emulated store, or a service-account JSON path")

    @field_validator("allowed_networks")
    @classmethod
    def _valid_networks(cls, cidrs: list[str]) -> list[str]:
        """A typo in a CIDR must fail at start, not open (or close) a hole at run time."""
        for cidr in cidrs:
            ipaddress.ip_network(cidr, strict=False)
        return cidrs


class PipelineSettings(Section):
    """Bounds on concurrency, so memory stays flat and polling never stalls."""

    max_inflight_videos: int = Field(64, gt=0)
    resume_ratio: float = Field(0.5, gt=0, le=1)
    batch_max_size: int = Field(16, gt=0)
    batch_deadline_ms: float = Field(20.0, ge=0)
    max_inflight_batches: int = Field(4, gt=0)
    shutdown_grace_s: float = Field(30.0, ge=0)
    commit_interval_s: float = Field(1.0, gt=0)
    max_event_bytes: int = Field(1024 * 1024, gt=0)
    models: list[str] = Field(default_factory=lambda: ["nsfw_classifier"], min_length=1)
    delivery: Literal["at_least_once", "exactly_once"] = "at_least_once"
    run_id: str = Field("live", min_length=1, max_length=128)


class MetricsSettings(Section):
    """The one HTTP port serving /metrics, /healthz and /readyz."""

    host: str = "0.0.0.0"
    port: int = Field(9108, gt=0, lt=65536)
    liveness_timeout_s: float = Field(30.0, gt=0)
    statistics_interval_s: float = Field(5.0, gt=0)


class LogSettings(Section):
    """Structured JSON logs for machines, plain text for people."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "text"] = "json"


class DevSettings(Section):
    """The local stack of `vmc dev`: real Kafka, tritonserver and Prometheus on loopback."""

    state_dir: Path = Path.home() / ".local" / "state" / "vmc" / "dev"
    cache_dir: Path = Path.home() / ".cache" / "vmc"
    kafka_version: str = "4.1.2"
    kafka_heap_mb: int = Field(512, gt=63)
    input_partitions: int = Field(6, gt=0)
    start_timeout_s: float = Field(120.0, gt=0)
    ttl_s: float = Field(12 * 3600.0, gt=0)  # its servers stop by themselves after this


class SignalsSettings(BaseModel):
    """One section per registered signal (`signals.<name>`), kept as given here and validated
    by the signal's own model when the signals are built (consumer/signals): settings know no
    signal, so a new one needs no change here."""

    model_config = ConfigDict(extra="allow")

    def raw(self, name: str) -> Any:
        return (self.model_extra or {}).get(name, {})

    def names(self) -> list[str]:
        return sorted(self.model_extra or {})


class Settings(BaseSettings):
    """Everything the service can be told, composed from one model per concern."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
        extra="forbid",
    )
    _config_file: ClassVar[Path | None] = None

    kafka: KafkaSettings = KafkaSettings()
    triton: TritonSettings = TritonSettings()
    decode: DecodeSettings = DecodeSettings()
    sampling: SamplingSettings = SamplingSettings()
    workers: WorkerSettings = WorkerSettings()
    gpu: GpuSettings = GpuSettings()
    source: SourceSettings = SourceSettings()
    pipeline: PipelineSettings = PipelineSettings()
    policy: PolicySettings = PolicySettings()
    signals: SignalsSettings = Field(default_factory=SignalsSettings)
    review: ReviewSettings = ReviewSettings()
    metrics: MetricsSettings = MetricsSettings()
    log: LogSettings = LogSettings()
    dev: DevSettings = DevSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if cls._config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cls._config_file))
        sources.append(DevStackAddressSource(settings_cls))
        return tuple(sources)

    @model_validator(mode="before")
    @classmethod
    def _no_old_names(cls, data: Any) -> Any:
        """A setting that moved fails with one line naming its new home (renamed_settings)."""
        lines = renamed_in(data, os.environ)
        if lines:
            raise PydanticCustomError("renamed_setting", "\n".join(lines))
        return data

    @model_validator(mode="after")
    def _some_worker(self) -> Settings:
        gpu = self.gpu.nvdec_workers if self.gpu.decode == "nvdec" else 0
        if self.workers.count + gpu < 1:
            raise ValueError("no decode worker: set workers.count (or gpu.nvdec_workers "
                             "with gpu.decode=nvdec) above 0")
        return self

    def redacted(self) -> dict[str, Any]:
        """JSON-ready view with every secret masked, for `vmc config show` and logs."""
        data: dict[str, Any] = self.model_dump(mode="json")
        return data


class DevStackAddressSource(PydanticBaseSettingsSource):
    """Addresses written by `vmc dev up`, so a developer's `vmc` finds the local stack."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        state_dir = Path(
            os.environ.get(DEV_STATE_DIR_ENV) or DevSettings.model_fields["state_dir"].default
        )
        addresses = state_dir / "addresses.json"
        try:
            data = json.loads(addresses.read_text())
        except (OSError, ValueError):
            return {}
        return {
            "kafka": {"bootstrap_servers": data["kafka_bootstrap"]},
            "triton": {"url": data["triton_grpc"], "metrics_url": data["triton_metrics_url"]},
        }


def setting_env_vars(model: type[BaseModel] | None = None,
                     loc: tuple[str, ...] = ()) -> list[str]:
    """Every leaf setting's environment variable (the signals' sections: see
    `consumer.signals.env_vars`)."""
    out: list[str] = []
    for name, field in (model or Settings).model_fields.items():
        ann = field.annotation
        if ann is SignalsSettings:
            continue
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out += setting_env_vars(ann, (*loc, name))
        else:
            out.append(env_var_for((*loc, name)))
    return out


def env_var_for(loc: tuple[str | int, ...]) -> str:
    """The environment variable that sets the field at `loc` (e.g. VMC_KAFKA__GROUP_ID)."""
    return ENV_PREFIX + ENV_NESTED_DELIMITER.join(str(part).upper() for part in loc)


def load_settings(
    config_file: Path | str | None = None, **overrides: Any
) -> Settings:
    """Build the settings once; invalid values raise `ConfigError` naming field and env var."""
    path = config_file or os.environ.get(CONFIG_FILE_ENV)
    if path is not None and not Path(path).is_file():
        raise ConfigError(f"config file not found: {path}")
    bound: type[Settings] = type(
        "Settings", (Settings,), {"_config_file": Path(path) if path else None,
                                  "__module__": __name__},
    )
    try:
        return bound(**overrides)
    except ValidationError as exc:
        renamed = [err["msg"] for err in exc.errors() if err["type"] == "renamed_setting"]
        if renamed:
            raise ConfigError("\n".join(renamed)) from None
        lines = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            field = ".".join(str(p) for p in loc)
            lines.append(f"{field}: {err['msg']} (env {env_var_for(loc)})")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from exc
