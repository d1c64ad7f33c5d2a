# sesd in a container: a multi-stage build on the slim Python image; the final
# image holds the virtual environment only (no compiler, no pip cache) and
# runs as an unprivileged user. The config is mounted at /etc/sesd/sesd.toml;
# set [http] listen = "0.0.0.0:9585" there so Prometheus can scrape it.
#
# The per-event core is compiled with mypyc (about twice the throughput; see
# BENCHMARKS.md); --build-arg SESD_COMPILE=0 builds a pure Python image.
# `sesd --version` says which core an image holds.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG SESD_COMPILE=1
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# A C compiler for mypyc; it stays in this stage.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py constraints.txt README.md ./
COPY sesd ./sesd
# A throwaway venv holds the tools (mypy, setuptools) and, for mypyc to check
# the code against, sesd's dependencies (sesd itself pure there); it builds the
# wheel. /opt/sesd gets the wheel and its runtime dependencies only.
RUN python -m venv /opt/build \
    && SESD_COMPILE=0 /opt/build/bin/pip install --no-cache-dir -c constraints.txt \
        mypy setuptools . \
    && SESD_COMPILE=${SESD_COMPILE} /opt/build/bin/pip wheel --no-cache-dir \
        --no-build-isolation --no-deps --wheel-dir /wheels . \
    && python -m venv /opt/sesd \
    && /opt/sesd/bin/pip install --no-cache-dir -c constraints.txt /wheels/sesd-*.whl \
    && /opt/sesd/bin/sesd --version

FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 sesd \
    && useradd --system --uid 10001 --gid sesd --no-create-home --shell /usr/sbin/nologin sesd
COPY --from=build /opt/sesd /opt/sesd
ENV PATH=/opt/sesd/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SESD_CONFIG=/etc/sesd/sesd.toml
USER 10001:10001
EXPOSE 9585
# SIGTERM starts the drain; give the container the grace period plus a margin
# (docker stop --time 45, Kubernetes terminationGracePeriodSeconds: 45).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:9585/healthz', timeout=4).status != 200)"]
ENTRYPOINT ["sesd"]
CMD ["run"]
