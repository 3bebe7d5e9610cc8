"""Real object stores on loopback: S3 (s3proxy, Maven Central) and GCS (fake-gcs-server, built
from the Go module proxy), each on a filesystem folder, fetched or built once into the cache.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from devstack.process import ProcessRecord, StackError, start_process

S3PROXY_VERSION = "2.4.1"
FAKE_GCS_VERSION = "v1.56.1"
S3_ACCESS_KEY = "vmc-dev"


def s3proxy_jar(cache_dir: Path, version: str = S3PROXY_VERSION) -> Path:
    return cache_dir / f"s3proxy-{version}" / f"s3proxy-{version}-jar-with-dependencies.jar"


def fake_gcs_binary(cache_dir: Path, version: str = FAKE_GCS_VERSION) -> Path:
    return cache_dir / f"fake-gcs-server-{version}" / "fake-gcs-server"


def fetch_s3proxy(cache_dir: Path, version: str = S3PROXY_VERSION) -> Path:
    """s3proxy's jar with dependencies, fetched once with `mvn` from Maven Central."""
    jar = s3proxy_jar(cache_dir, version)
    if jar.exists():
        return jar
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError("mvn not found: install Maven (Debian package 'maven') for s3proxy")
    jar.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [mvn, "-q", "-B", "dependency:copy",
         f"-Dartifact=org.gaul:s3proxy:{version}:jar:jar-with-dependencies",
         f"-DoutputDirectory={jar.parent}"],
        capture_output=True, text=True, check=False, cwd=jar.parent)
    if result.returncode != 0 or not jar.exists():
        raise StackError(f"mvn could not fetch s3proxy {version}:\n{result.stdout[-2000:]}")
    return jar


def build_fake_gcs(cache_dir: Path, version: str = FAKE_GCS_VERSION) -> Path:
    """fake-gcs-server, built once with `go install` from the Go module proxy."""
    binary = fake_gcs_binary(cache_dir, version)
    gobin = binary.parent
    if binary.exists():
        return binary
    go = shutil.which("go") or next((p for p in ("/usr/local/go/bin/go",) if Path(p).exists()),
                                    None)
    if go is None:
        raise StackError("go not found: install Go to build fake-gcs-server")
    result = subprocess.run(
        [go, "install", f"github.com/fsouza/fake-gcs-server@{version}"],
        capture_output=True, text=True, check=False,
        env={**os.environ, "GOBIN": str(gobin), "CGO_ENABLED": "0"})
    if result.returncode != 0 or not binary.exists():
        raise StackError(f"go could not build fake-gcs-server {version}:\n"
                         f"{result.stderr[-2000:]}")
    return binary


class S3Proxy:
    """S3 API on a folder (jclouds filesystem back-end), AWS v4 signatures required."""

    def __init__(self, home: Path, port: int, jar: Path, secret_key: str) -> None:
        self.home = home
        self.port = port
        self.jar = jar
        self.secret_key = secret_key

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def launch(self, *, ttl_s: float, die_with_parent: bool) -> ProcessRecord:
        java = shutil.which("java")
        if java is None:
            raise StackError("java not found: s3proxy needs Java 11+")
        (self.home / "data").mkdir(parents=True, exist_ok=True)
        properties = self.home / "s3proxy.properties"
        properties.write_text("\n".join([
            f"s3proxy.endpoint={self.url}",
            "s3proxy.authorization=aws-v2-or-v4",
            f"s3proxy.identity={S3_ACCESS_KEY}",
            f"s3proxy.credential={self.secret_key}",
            "jclouds.provider=filesystem",
            f"jclouds.filesystem.basedir={self.home / 'data'}",
        ]) + "\n")
        properties.chmod(0o600)
        return start_process("s3proxy", [java, "-Xmx256m", "-jar", str(self.jar),
                                         "--properties", str(properties)],
                             log=self.home / "s3proxy.log", ttl_s=ttl_s,
                             die_with_parent=die_with_parent)

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.url, timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # it answers (403 without a signature): up
        except OSError:
            return False


class FakeGcs:
    """GCS JSON API on a folder, plain HTTP."""

    def __init__(self, home: Path, port: int, binary: Path) -> None:
        self.home = home
        self.port = port
        self.binary = binary

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def launch(self, *, ttl_s: float, die_with_parent: bool) -> ProcessRecord:
        (self.home / "data").mkdir(parents=True, exist_ok=True)
        return start_process("fake-gcs", [
            str(self.binary), "-scheme", "http", "-host", "127.0.0.1", "-port", str(self.port),
            "-public-host", f"127.0.0.1:{self.port}", "-backend", "filesystem",
            "-filesystem-root", str(self.home / "data"), "-log-level", "warn"],
            log=self.home / "fake-gcs.log", ttl_s=ttl_s, die_with_parent=die_with_parent)

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/storage/v1/b", timeout=2) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False
