# Comptoir in one image: `docker build -t comptoir .`, then `docker run -p 8000:8000 -v
# comptoir:/data comptoir` serves it on SQLite with a worker beside it. compose.yaml runs the
# PostgreSQL + Redis shape; docs/deploy/docker.md says more.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the package and its dependencies, pinned by constraints.txt, in a virtualenv -------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN python -m venv /opt/comptoir
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY src ./src
RUN /opt/comptoir/bin/pip install --constraint constraints.txt ".[postgres,redis]" \
    && /opt/comptoir/bin/python -m compileall -q /opt/comptoir/lib

# --- run: the virtualenv only, as an unprivileged user ------------------------------------------
FROM ${PYTHON_IMAGE}
# pg_dump and pg_restore, for `comptoir backup` and `restore` on PostgreSQL (15, as compose.yaml's).
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 comptoir \
    && useradd --system --uid 10001 --gid comptoir --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin comptoir \
    && mkdir /data \
    && chown comptoir:comptoir /data
COPY --from=build /opt/comptoir /opt/comptoir
ENV PATH=/opt/comptoir/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    COMPTOIR_DATA_DIR=/data \
    COMPTOIR_PORT=8000
# The database (on SQLite), the secret key if none is given, uploaded files and the mail spool.
VOLUME ["/data"]
USER comptoir
WORKDIR /data
EXPOSE 8000
# Liveness: the process answers. The Host header is the first of COMPTOIR_ALLOWED_HOSTS, which
# Django checks on every request.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD \
    python -c "import os, urllib.request as r; h = (os.environ.get('COMPTOIR_ALLOWED_HOSTS') or 'localhost').split(',')[0].strip().lstrip('.'); h = 'localhost' if h in ('', '*') else h; r.urlopen(r.Request('http://127.0.0.1:%s/healthz' % os.environ['COMPTOIR_PORT'], headers={'Host': h}), timeout=4)"
ENTRYPOINT ["comptoir"]
CMD ["serve", "--host", "0.0.0.0"]
