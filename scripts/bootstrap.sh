#!/usr/bin/env bash
# Install everything the service, the demo and the tests need on a fresh Debian machine:
# Debian packages (Java 17, Maven, Prometheus, FFmpeg, Chromaprint, espeak-ng), a venv with
# the project and its extras, and the Kafka jars from Maven Central. Idempotent and quick when
# nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[bootstrap] %s\n' "$*" >&2; }
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

need_apt=()
command -v java >/dev/null || need_apt+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need_apt+=(maven)
command -v prometheus >/dev/null || need_apt+=(prometheus)
command -v promtool >/dev/null || need_apt+=(prometheus)
command -v ffmpeg >/dev/null || need_apt+=(ffmpeg)
command -v openssl >/dev/null || need_apt+=(openssl)
command -v g++ >/dev/null || need_apt+=(g++)  # pdqhash is published as source only
ldconfig -p | grep -q "libchromaprint.so.1 " || need_apt+=(libchromaprint1)  # music matching
command -v espeak-ng >/dev/null || need_apt+=(espeak-ng)  # speech in the music tests and bench
PY=${PYTHON:-python3}
pyver=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
ldconfig -p | grep -q "libpython${pyver}.so.1.0" || need_apt+=("libpython${pyver}")
if [ ${#need_apt[@]} -gt 0 ]; then
  say "apt-get install ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${need_apt[@]}" >/dev/null
fi

stamp=.venv/.bootstrap-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  say "creating .venv and installing the project with extras dev,models,speech,s3,gcs (torch is large)"
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev,models,speech,s3,gcs]'
  rm -f .venv/.bootstrap-*
  touch "$stamp"
else
  .venv/bin/python -m pip install -q --no-deps -e . >/dev/null
fi

# k8s manifests are rendered by `kubectl kustomize` or a kustomize binary (tests/unit/deploy).
KUSTOMIZE_VERSION=v5.5.0
if ! command -v kubectl >/dev/null && ! command -v kustomize >/dev/null \
    && [ ! -x "$HOME/.local/bin/kustomize" ]; then
  if command -v go >/dev/null; then
    say "installing kustomize ${KUSTOMIZE_VERSION} into ~/.local/bin (go install)"
    GOBIN="$HOME/.local/bin" GOFLAGS=-mod=mod \
      go install "sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}"
  else
    say "neither kubectl, kustomize nor go found: the k8s manifest tests will fail"
  fi
fi

say "Kafka jars: $(.venv/bin/vmc dev fetch)"
