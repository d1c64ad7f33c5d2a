# sesd in a container: a multi-stage build on the slim Python image; the final
# image holds the virtual environment only (no compiler, no pip cache) and
# runs as an unprivileged user. The config is mounted at /etc/sesd/sesd.toml.
# It listens on 0.0.0.0:9585 (SESD_HTTP_LISTEN, over the config's [http]
# listen) so that Prometheus can scrape it; set SESD_HTTP_LISTEN to move it.
# The base image by digest, so a re-pushed tag cannot change what is built.
# Check it, or move to a newer one, with:
#   docker buildx imagetools inspect python:3.11.11-slim-bookworm
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm@sha256:081075da77b2b55c23c088251026fb69a7b2bf92471e491ff5fd75c192fd38e5

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml requirements/runtime.txt README.md ./
COPY sesd ./sesd
# /opt/sesd gets sesd's runtime dependencies as locked, every file checked
# against its hash, then sesd itself; the build fails unless the command runs.
RUN python -m venv /opt/sesd \
    && /opt/sesd/bin/pip install --no-cache-dir --require-hashes -r runtime.txt \
    && /opt/sesd/bin/pip install --no-cache-dir --no-deps . \
    && /opt/sesd/bin/sesd --version

FROM ${PYTHON_IMAGE}
ARG SESD_VERSION=0.1.0
LABEL org.opencontainers.image.title="sesd" \
      org.opencontainers.image.description="Real-time Amazon SES delivery monitoring: per-domain delay windows, Prometheus metrics, alerts" \
      org.opencontainers.image.version="${SESD_VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"
RUN groupadd --system --gid 10001 sesd \
    && useradd --system --uid 10001 --gid sesd --no-create-home --shell /usr/sbin/nologin sesd
COPY --from=build /opt/sesd /opt/sesd
ENV PATH=/opt/sesd/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SESD_CONFIG=/etc/sesd/sesd.toml \
    SESD_HTTP_LISTEN=0.0.0.0:9585
USER 10001:10001
EXPOSE 9585
# SIGTERM starts the drain; give the container the grace period plus a margin
# (docker stop --time 45, Kubernetes terminationGracePeriodSeconds: 45).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ['SESD_HTTP_LISTEN'].rpartition(':')[2]; sys.exit(urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status != 200)"]
ENTRYPOINT ["sesd"]
CMD ["run"]
