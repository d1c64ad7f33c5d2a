# sesd in a container: a multi-stage build on the slim Python image; the final
# image holds the virtual environment only (no compiler, no pip cache) and
# runs as an unprivileged user. The config is mounted at /etc/sesd/sesd.toml;
# set [http] listen = "0.0.0.0:9585" there so Prometheus can scrape it.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY sesd ./sesd
# /opt/sesd gets sesd and its runtime dependencies, pinned; the build fails
# unless the installed command runs.
RUN python -m venv /opt/sesd \
    && /opt/sesd/bin/pip install --no-cache-dir -c constraints.txt . \
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
