# syntax=docker/dockerfile:1
# The callengine image: Ray, the engine and its locked dependencies; runs as a non-root user.
#
#   docker build -t registry.example.com/callengine:0.1.0 .
#
# Used by deploy/kuberay.yaml (head, workers, the `callengine serve` sidecar) and by
# ray_cluster.yaml (the cluster launcher runs every node in it). Python is pinned to the
# version the tests run on; Ray and everything else to constraints.txt (ray==2.60.0), so the
# image holds exactly what `make test` tested. tests/unit/deploy lints this file (hadolint)
# and tests/integration/deploy replays its install steps in a fresh virtualenv.

ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_PYTHON_DOWNLOADS=never
WORKDIR /src
# uv (the version constraints.txt locks) installs the locked set several times faster than pip;
# it lives in the build stage only.
RUN python -m venv /opt/uv \
    && /opt/uv/bin/pip install --no-cache-dir uv==0.13.9 \
    && python -m venv /opt/callengine
COPY pyproject.toml constraints.txt README.md ./
COPY engine ./engine
COPY actors ./actors
COPY storage ./storage
# Not the extras: production reads PostgreSQL from DATABASE_URL and needs no demo tools.
RUN /opt/uv/bin/uv pip install --no-cache --python /opt/callengine/bin/python -c constraints.txt . \
    && /opt/callengine/bin/python -c "import ray, engine.api.gen.callengine_pb2_grpc, storage.migrations; assert ray.__version__ == '2.60.0', ray.__version__"

FROM ${PYTHON_IMAGE} AS runtime
# KubeRay and the Ray cluster launcher start Ray through bash; uid 1000 as in Ray's own images.
RUN groupadd --gid 1000 ray \
    && useradd --uid 1000 --gid 1000 --create-home --shell /bin/bash ray
COPY --from=build /opt/callengine /opt/callengine
ENV PATH=/opt/callengine/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    CALLENGINE_DATA_DIR=/home/ray/.local/share/callengine
USER 1000:1000
WORKDIR /home/ray
# gRPC front door, SessionHost media/status port, Ray GCS, client, dashboard, metrics.
EXPOSE 50051 8765 6379 10001 8265 8080
RUN callengine --version && callengine config example > /dev/null
CMD ["callengine", "--help"]
