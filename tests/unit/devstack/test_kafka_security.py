"""The SASL_SSL listener's pieces without a broker: certificates made with openssl, the SCRAM
credential, the secret files, the broker's listener properties, and the stack's options."""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
from pathlib import Path

from devstack.kafka import KafkaBroker, KafkaPorts
from devstack.kafka_security import SCRAM_ITERATIONS, BrokerTls, ScramUser
from devstack.secret_files import ensure_secret
from devstack.state import StackOptions


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_a_secret_is_made_once_0600_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "key"
    first = ensure_secret(path)
    assert len(first) >= 32 and ensure_secret(path) == first
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700


def test_the_broker_certificate_verifies_for_loopback_against_the_ca(tmp_path: Path) -> None:
    tls = BrokerTls(tmp_path / "tls")
    tls.ensure()
    crt = tmp_path / "tls" / "broker.crt"
    for host in ("-verify_ip", "127.0.0.1"), ("-verify_hostname", "localhost"):
        subprocess.run(["openssl", "verify", "-CAfile", str(tls.ca_location), *host, str(crt)],
                       check=True, capture_output=True)
    keystore = tls.keystore.read_text()
    assert keystore.count("BEGIN CERTIFICATE") == 2 and "BEGIN PRIVATE KEY" in keystore
    assert _mode(tls.keystore) == _mode(tmp_path / "tls" / "ca.key") == 0o600
    made = tls.ca_location.read_text()
    tls.ensure()
    assert tls.ca_location.read_text() == made, "made once: clients keep trusting the CA"


def test_the_scram_credential_is_salted_so_no_argv_holds_the_password(tmp_path: Path) -> None:
    user = ScramUser(tmp_path / "sasl")
    argument = user.format_argument()
    password = user.password_file.read_text().strip()
    assert password not in argument
    match = re.fullmatch(r'SCRAM-SHA-512=\[name=vmc,iterations=(\d+),salt="([^"]+)",'
                         r'saltedpassword="([^"]+)"\]', argument)
    assert match is not None, argument
    iterations, salt, salted = int(match[1]), base64.b64decode(match[2]), match[3]
    assert iterations == SCRAM_ITERATIONS >= 4096
    expected = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    assert base64.b64decode(salted) == expected


def _properties(broker: KafkaBroker) -> dict[str, str]:
    broker.home.mkdir(parents=True, exist_ok=True)
    text = broker._write_config().read_text()
    return dict(line.split("=", 1) for line in text.splitlines())


def test_the_sasl_ssl_listener_is_a_second_listener_beside_plaintext(tmp_path: Path) -> None:
    plain = _properties(KafkaBroker(tmp_path / "a", tmp_path, KafkaPorts(1001, 1002), 256))
    assert plain["listeners"] == "PLAINTEXT://127.0.0.1:1001,CONTROLLER://127.0.0.1:1002"
    assert "sasl.enabled.mechanisms" not in plain
    broker = KafkaBroker(tmp_path / "b", tmp_path, KafkaPorts(1001, 1002), 256,
                         sasl_ssl_port=1003)
    props = _properties(broker)
    assert props["listeners"].endswith(",SASL_SSL://127.0.0.1:1003")
    assert props["advertised.listeners"] == ("PLAINTEXT://127.0.0.1:1001,"
                                             "SASL_SSL://127.0.0.1:1003")
    assert props["inter.broker.listener.name"] == "PLAINTEXT"
    assert props["listener.security.protocol.map"] == ("PLAINTEXT:PLAINTEXT,"
                                                       "CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL")
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"].startswith(
        "org.apache.kafka.common.security.scram.ScramLoginModule required")
    assert props["listener.name.sasl_ssl.ssl.keystore.type"] == "PEM"
    assert broker.secured is not None and broker.secured.bootstrap == "127.0.0.1:1003"
    assert broker.secured.ca_location == tmp_path / "b" / "tls" / "ca.crt"


def test_secured_env_prints_what_it_is_given_for_the_password(tmp_path: Path) -> None:
    broker = KafkaBroker(tmp_path, tmp_path, KafkaPorts(1, 2), 256, sasl_ssl_port=3)
    assert broker.secured is not None
    env = broker.secured.env(password="$(cat FILE)")
    assert env["VMC_KAFKA__CLIENT__SASL_PASSWORD"] == "$(cat FILE)"
    assert env["VMC_KAFKA__BOOTSTRAP_SERVERS"] == "127.0.0.1:3"
    assert sorted(k for k in env if k.startswith("VMC_KAFKA__CLIENT__")) == [
        "VMC_KAFKA__CLIENT__SASL_MECHANISM", "VMC_KAFKA__CLIENT__SASL_PASSWORD",
        "VMC_KAFKA__CLIENT__SASL_USERNAME", "VMC_KAFKA__CLIENT__SECURITY_PROTOCOL",
        "VMC_KAFKA__CLIENT__SSL_CA_LOCATION"]


def test_stack_options_round_trip_and_default_when_never_saved(tmp_path: Path) -> None:
    assert StackOptions.load(tmp_path) == StackOptions()
    options = StackOptions(secured_kafka=True, object_stores=True)
    options.save(tmp_path)
    assert StackOptions.load(tmp_path) == options
