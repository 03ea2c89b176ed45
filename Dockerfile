# ordergate gateway image: the production profile (no simulators, no introspection, no
# GraphiQL, JSON logs) unless told otherwise (`-e ORDERGATE_PROFILE=demo` serves the demo with
# its four simulators in-process). Point it at real upstreams with ORDERGATE_<SOURCE>__BASE_URL
# and their credentials; README.md ("Operations", "Deploying") and deploy/compose.yaml show a whole deployment.
#
# The base is pinned by its exact version tag (Python 3.11.15 on Debian 12). Pin its digest as
# well (`python:3.11.15-slim-bookworm@sha256:...`) where the registry can be asked for it; it
# could not be looked up where this file was written.

# --- builder: the venv, from the lock file, every file checked against its hash -----------
FROM python:3.11.15-slim-bookworm AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore

# A venv without pip of its own: the base image's pip installs into it (`--python`), so the
# final stage carries no installer.
RUN python -m venv --without-pip /opt/ordergate

# Dependencies first (a layer that changes only with the lock). Wheels only: nothing is
# compiled, so neither stage needs a compiler.
COPY requirements.lock /tmp/requirements.lock
RUN pip --python /opt/ordergate/bin/python install \
        --require-hashes --only-binary=:all: --no-deps -r /tmp/requirements.lock

# The project itself, as a wheel, without dependencies (the lock brought them). Building it
# fetches setuptools (pyproject's build-system), the one download not checked against a hash.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY schema ./schema
COPY resolvers ./resolvers
COPY backends ./backends
COPY domain ./domain
COPY store ./store
COPY feed ./feed
COPY telemetry ./telemetry
RUN pip wheel --no-deps --wheel-dir /tmp/wheels . \
    && pip --python /opt/ordergate/bin/python install --no-deps /tmp/wheels/ordergate-*.whl

# --- final: the venv alone, run by a user that is not root -------------------------------
FROM python:3.11.15-slim-bookworm

# A fixed uid/gid: volumes and a cluster's runAsUser can name it.
RUN groupadd --system --gid 10001 ordergate \
    && useradd --system --uid 10001 --gid ordergate --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin ordergate \
    && mkdir /data && chown ordergate:ordergate /data

COPY --from=builder /opt/ordergate /opt/ordergate

# The profile decides the rest: simulators off, introspection and GraphiQL off, JSON logs
# (ORDERGATE_SIMULATORS, ORDERGATE_INTROSPECTION, ORDERGATE_GRAPHIQL, ORDERGATE_LOG_FORMAT
# each override it). SQLite in /data serves a single replica; replicas share PostgreSQL
# (ORDERGATE_DATABASE_URL) and Redis (ORDERGATE_REDIS_URL).
ENV PATH=/opt/ordergate/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ORDERGATE_PROFILE=production \
    ORDERGATE_HOST=0.0.0.0 \
    ORDERGATE_PORT=8000 \
    ORDERGATE_DATABASE_URL=sqlite+aiosqlite:////data/ordergate.db

WORKDIR /data
USER 10001:10001
EXPOSE 8000

# Liveness, with the image's own Python (slim has no curl).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('ORDERGATE_PORT', '8000'), timeout=2)"

# SIGTERM (docker stop) lets requests in flight finish for ORDERGATE_SHUTDOWN_GRACE_S (25 s):
# give the container longer than that to stop (compose: stop_grace_period).
CMD ["ordergate", "run"]
