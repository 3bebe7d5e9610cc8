from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr

from consumer.errors import ConfigError
from consumer.settings import env_var_for, load_settings


def test_defaults_name_the_four_topics() -> None:
    settings = load_settings()
    assert settings.kafka.topics.input == "video.uploads"
    assert settings.kafka.topics.dlq == "video.uploads.dlq"
    assert settings.triton.protocol == "grpc"


def test_nested_env_var_overrides_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VMC_KAFKA__TOPICS__INPUT", "uploads.v2")
    monkeypatch.setenv("VMC_PIPELINE__MAX_INFLIGHT_VIDEOS", "7")
    settings = load_settings()
    assert settings.kafka.topics.input == "uploads.v2"
    assert settings.pipeline.max_inflight_videos == 7


def test_toml_file_is_read_and_env_wins_over_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "vmc.toml"
    config.write_text('[kafka]\ngroup_id = "from-file"\n[triton]\ntimeout_s = 3.5\n')
    monkeypatch.setenv("VMC_TRITON__TIMEOUT_S", "9")
    settings = load_settings(config)
    assert settings.kafka.group_id == "from-file"
    assert settings.triton.timeout_s == 9.0


def test_config_file_from_vmc_config_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "vmc.toml"
    config.write_text('[kafka]\ngroup_id = "via-env"\n')
    monkeypatch.setenv("VMC_CONFIG", str(config))
    assert load_settings().kafka.group_id == "via-env"


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "absent.toml")


def test_invalid_value_names_field_and_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VMC_TRITON__TIMEOUT_S", "-1")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "triton.timeout_s" in str(err.value)
    assert "VMC_TRITON__TIMEOUT_S" in str(err.value)


def test_unknown_key_in_file_is_rejected(tmp_path: Path) -> None:
    config = tmp_path / "vmc.toml"
    config.write_text("[kafka]\nbootstrap = 'typo'\n")
    with pytest.raises(ConfigError, match=r"kafka\.bootstrap"):
        load_settings(config)


def test_client_env_keys_map_to_librdkafka_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VMC_KAFKA__CLIENT__SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("VMC_KAFKA__CLIENT__SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("VMC_KAFKA__BOOTSTRAP_SERVERS", "b1:9093")
    cfg = load_settings().kafka.librdkafka_config()
    assert cfg == {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
                   "bootstrap.servers": "b1:9093"}


def test_secret_client_values_are_masked_everywhere_but_librdkafka(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VMC_KAFKA__CLIENT__SASL_PASSWORD", "hunter2-secret")
    monkeypatch.setenv("VMC_KAFKA__CLIENT__SASL_OAUTHBEARER_CLIENT_SECRET", "oauth-s3cr3t")
    settings = load_settings()
    assert isinstance(settings.kafka.client["sasl.password"], SecretStr)
    for text in (json.dumps(settings.redacted()), repr(settings), str(settings)):
        assert "hunter2-secret" not in text
        assert "oauth-s3cr3t" not in text
    assert settings.kafka.librdkafka_config()["sasl.password"] == "hunter2-secret"


def test_dev_stack_addresses_are_found_below_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "dev"
    state.mkdir()
    (state / "addresses.json").write_text(json.dumps({
        "kafka_bootstrap": "127.0.0.1:1111", "triton_grpc": "127.0.0.1:2222",
        "triton_http": "http://127.0.0.1:2221", "triton_metrics_url": "http://127.0.0.1:2223/metrics",
        "prometheus_url": "http://127.0.0.1:3333",
    }))
    monkeypatch.setenv("VMC_DEV__STATE_DIR", str(state))
    assert load_settings().kafka.bootstrap_servers == "127.0.0.1:1111"
    assert load_settings().triton.url == "127.0.0.1:2222"
    monkeypatch.setenv("VMC_KAFKA__BOOTSTRAP_SERVERS", "broker:9092")
    assert load_settings().kafka.bootstrap_servers == "broker:9092"


def test_env_var_for_nested_location() -> None:
    assert env_var_for(("kafka", "topics", "input")) == "VMC_KAFKA__TOPICS__INPUT"
