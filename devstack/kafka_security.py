"""The broker's SASL_SSL listener: SCRAM-SHA-512 over TLS, as production brokers are reached.

A CA and a broker certificate are made once with `openssl` in the broker's home (SAN
IP:127.0.0.1 and DNS:localhost, so librdkafka's default hostname check passes); the broker
reads its key and chain as a PEM keystore. The SCRAM user's password is random per stack, kept
in a 0600 file, and reaches the broker only as a salted credential at storage-format time: it
is in no command line, config file or log.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from devstack.process import StackError
from devstack.secret_files import ensure_secret

SCRAM_MECHANISM = "SCRAM-SHA-512"
SCRAM_USERNAME = "vmc"
SCRAM_ITERATIONS = 8192  # the broker refuses fewer than 4096
LISTENER_NAME = "SASL_SSL"
CERT_DAYS = 825


@dataclass(frozen=True)
class SecuredKafka:
    """What a client needs to reach the SASL_SSL listener. The password stays in its file."""

    bootstrap: str
    ca_location: Path
    username: str
    password_file: Path
    mechanism: str = SCRAM_MECHANISM

    def password(self) -> str:
        return self.password_file.read_text().strip()

    def client_config(self) -> dict[str, str]:
        """librdkafka properties, the real password included: for clients only, never print."""
        return {"bootstrap.servers": self.bootstrap, "security.protocol": "SASL_SSL",
                "sasl.mechanism": self.mechanism, "sasl.username": self.username,
                "sasl.password": self.password(), "ssl.ca.location": str(self.ca_location)}

    def env(self, *, password: str) -> dict[str, str]:
        """The VMC_* settings for this listener; `password` is what to print for the secret
        (e.g. a shell expansion that reads the file), never the secret itself by default."""
        return {
            "VMC_KAFKA__BOOTSTRAP_SERVERS": self.bootstrap,
            "VMC_KAFKA__CLIENT__SECURITY_PROTOCOL": "SASL_SSL",
            "VMC_KAFKA__CLIENT__SASL_MECHANISM": self.mechanism,
            "VMC_KAFKA__CLIENT__SASL_USERNAME": self.username,
            "VMC_KAFKA__CLIENT__SASL_PASSWORD": password,
            "VMC_KAFKA__CLIENT__SSL_CA_LOCATION": str(self.ca_location),
        }


class ScramUser:
    """One SCRAM-SHA-512 user; the password is made once and kept 0600 under `folder`."""

    def __init__(self, folder: Path, username: str = SCRAM_USERNAME) -> None:
        self.folder = folder
        self.username = username

    @property
    def password_file(self) -> Path:
        return self.folder / f"{self.username}.password"

    def exists(self) -> bool:
        return self.password_file.exists()

    def format_argument(self) -> str:
        """`kafka-storage format --add-scram` value, the password made now if need be; salted,
        so that the password itself is in no command line."""
        password = ensure_secret(self.password_file).encode()
        salt = secrets.token_bytes(16)
        salted = hashlib.pbkdf2_hmac("sha512", password, salt, SCRAM_ITERATIONS)
        b64 = base64.b64encode
        return (f"{SCRAM_MECHANISM}=[name={self.username},iterations={SCRAM_ITERATIONS},"
                f'salt="{b64(salt).decode()}",saltedpassword="{b64(salted).decode()}"]')


def _openssl(*args: str, cwd: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise StackError("openssl not found: install it (Debian package 'openssl')")
    result = subprocess.run([openssl, *args], cwd=cwd, capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        raise StackError(f"openssl {args[0]} failed: {result.stderr[-1500:]}")


class BrokerTls:
    """A CA and a broker certificate for 127.0.0.1/localhost, made once in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @property
    def ca_location(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def keystore(self) -> Path:
        """The broker's private key and certificate chain, one PEM file (0600)."""
        return self.folder / "broker.pem"

    def ensure(self) -> None:
        if self.ca_location.exists() and self.keystore.exists():
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o700)
        ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
        _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt",
                 "-days", str(CERT_DAYS * 4), "-subj", "/CN=vmc dev stack CA",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=self.folder)
        _openssl("req", *ec, "-keyout", "broker.key", "-out", "broker.csr",
                 "-subj", "/CN=localhost", cwd=self.folder)
        (self.folder / "broker.ext").write_text(
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
            "basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage=serverAuth\n")
        _openssl("x509", "-req", "-in", "broker.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-set_serial", f"0x{secrets.token_hex(16)}", "-days", str(CERT_DAYS),
                 "-extfile", "broker.ext", "-out", "broker.crt", cwd=self.folder)
        for key in ("ca.key", "broker.key"):
            (self.folder / key).chmod(0o600)
        fd = os.open(self.keystore, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write((self.folder / "broker.key").read_text()
                      + (self.folder / "broker.crt").read_text()
                      + self.ca_location.read_text())
        for scratch in ("broker.csr", "broker.ext"):
            (self.folder / scratch).unlink()


class SaslSslListener:
    """A second listener of the broker: SASL_SSL with SCRAM-SHA-512 on `port`."""

    def __init__(self, tls_folder: Path, port: int, user: ScramUser) -> None:
        self.port = port
        self.tls = BrokerTls(tls_folder)
        self.user = user

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def broker_properties(self) -> dict[str, str]:
        prefix = f"listener.name.{LISTENER_NAME.lower()}."
        return {
            "sasl.enabled.mechanisms": SCRAM_MECHANISM,
            f"{prefix}sasl.enabled.mechanisms": SCRAM_MECHANISM,
            f"{prefix}{SCRAM_MECHANISM.lower()}.sasl.jaas.config":
                "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            f"{prefix}ssl.keystore.type": "PEM",
            f"{prefix}ssl.keystore.location": str(self.tls.keystore),
        }

    def access(self) -> SecuredKafka:
        return SecuredKafka(self.address, self.tls.ca_location, self.user.username,
                            self.user.password_file)
