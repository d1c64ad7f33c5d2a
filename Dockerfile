# sesd in a container: a multi-stage build on the slim Python image; the final
# image holds the virtual environment only (no compiler, no installer) and
# runs as an unprivileged user. The config is mounted at /etc/sesd/sesd.toml;
# with [http] web_config (README "Securing the port"), mount that file and the
# certificate and key it names read-only too, e.g. -v /srv/sesd/web:/etc/sesd/web:ro
# and web_config = "/etc/sesd/web/web.yml".
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
COPY pyproject.toml requirements/runtime.txt requirements/build.txt README.md ./
COPY sesd ./sesd
# The wheel is built by the locked build backend (setuptools and wheel, every
# file checked against its hash, as `make wheel` builds it), not by whatever the
# index serves that day; /opt/build stays in this stage. /opt/sesd is made
# without pip (and setuptools) and filled by /opt/build's pip (--python): sesd's
# runtime dependencies as locked, then the wheel. It is all the final image gets
# of this stage, so no installer goes with it; the build fails unless the command
# runs and no installer is left in it.
RUN python -m venv /opt/build \
    && /opt/build/bin/pip install --no-cache-dir --require-hashes -r build.txt \
    && /opt/build/bin/pip wheel --no-cache-dir --no-deps --no-build-isolation \
        --wheel-dir /tmp/wheels . \
    && python -m venv --without-pip /opt/sesd \
    && /opt/build/bin/pip --python /opt/sesd/bin/python install --no-cache-dir \
        --require-hashes -r runtime.txt \
    && /opt/build/bin/pip --python /opt/sesd/bin/python install --no-cache-dir \
        --no-deps /tmp/wheels/sesd-*.whl \
    && /opt/sesd/bin/sesd --version \
    && /opt/sesd/bin/python -c "import importlib.util as u, sys; left = [m for m in sys.argv[1:] if u.find_spec(m)]; sys.exit(left and f'installers left: {left}' or None)" pip setuptools wheel

FROM ${PYTHON_IMAGE}
# An ARG before the first FROM is not seen inside a stage until declared again: the
# base image's label below would be empty.
ARG PYTHON_IMAGE
ARG SESD_VERSION=0.1.0
# The commit built (docker build --build-arg SESD_REVISION=$(git rev-parse HEAD) .):
# `sesd --version`, sesd_build_info and the status page name it.
ARG SESD_REVISION=""
LABEL org.opencontainers.image.title="sesd" \
      org.opencontainers.image.revision="${SESD_REVISION}" \
      org.opencontainers.image.description="Real-time Amazon SES delivery monitoring: per-domain delay windows, Prometheus metrics, alerts" \
      org.opencontainers.image.version="${SESD_VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"
# The image's own Python keeps no installer: pip, setuptools and wheel (and
# ensurepip's copies of them) are what an intruder would install tools with, and
# what CVE scanners flag; sesd needs none of them at run time. The state
# directory ([state] path = "/var/lib/sesd/state.bin") is sesd's and private: a
# volume mounted there empty (docker run -v sesd-state:/var/lib/sesd) starts
# with its owner and mode. The build fails if an installer is left.
RUN groupadd --system --gid 10001 sesd \
    && useradd --system --uid 10001 --gid sesd --no-create-home --shell /usr/sbin/nologin sesd \
    && install --directory --owner=sesd --group=sesd --mode=0700 /var/lib/sesd \
    && python -m pip uninstall --yes --quiet pip setuptools wheel \
    && rm -rf /usr/local/lib/python3.*/ensurepip \
    && python -c "import importlib.util as u, sys; left = [m for m in sys.argv[1:] if u.find_spec(m)]; sys.exit(left and f'installers left: {left}' or None)" pip setuptools wheel ensurepip
COPY --from=build /opt/sesd /opt/sesd
ENV PATH=/opt/sesd/bin:$PATH \
    SESD_REVISION=${SESD_REVISION} \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SESD_CONFIG=/etc/sesd/sesd.toml \
    SESD_HTTP_LISTEN=0.0.0.0:9585 \
    SESD_HEALTHCHECK_SCHEME=http
USER 10001:10001
EXPOSE 9585
# SIGTERM starts the drain; give the container the grace period plus a margin
# (docker stop --time 45, Kubernetes terminationGracePeriodSeconds: 45).
STOPSIGNAL SIGTERM
# /healthz shows the event loop answers. With [http] web_config (README "Securing
# the port"), it is locked like every path: a 401 is sesd's loop answering too, so
# the check needs no password; with TLS, set SESD_HEALTHCHECK_SCHEME=https (the
# certificate names the service, not 127.0.0.1: the check is of life, not identity).
# With client_auth_type RequireAndVerifyClientCert the check must present a client
# certificate: set SESD_HEALTHCHECK_CERT and SESD_HEALTHCHECK_KEY to its files.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import http.client, os, ssl, sys; port = int(os.environ['SESD_HTTP_LISTEN'].rpartition(':')[2]); tls = os.environ.get('SESD_HEALTHCHECK_SCHEME') == 'https'; context = ssl.create_default_context(); context.check_hostname = False; context.verify_mode = ssl.CERT_NONE; cert = os.environ.get('SESD_HEALTHCHECK_CERT'); cert and context.load_cert_chain(cert, os.environ.get('SESD_HEALTHCHECK_KEY')); connection = http.client.HTTPSConnection('127.0.0.1', port, timeout=4, context=context) if tls else http.client.HTTPConnection('127.0.0.1', port, timeout=4); connection.request('GET', '/healthz'); sys.exit(connection.getresponse().status not in (200, 401))"]
ENTRYPOINT ["sesd"]
CMD ["run"]
