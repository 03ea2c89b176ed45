# ordergate gateway image. The embedded simulators are on by default (demo);
# set ORDERGATE_SIMULATORS=false and the ORDERGATE_<SOURCE>__* settings for real upstreams.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ORDERGATE_HOST=0.0.0.0 \
    ORDERGATE_DATABASE_URL=sqlite+aiosqlite:////data/ordergate.db

WORKDIR /app
COPY pyproject.toml README.md ./
COPY gateway gateway
COPY schema schema
COPY resolvers resolvers
COPY backends backends
COPY domain domain
COPY store store
RUN pip install --no-cache-dir . && mkdir -p /data && useradd --system ordergate \
    && chown ordergate /data
USER ordergate
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')"
CMD ["ordergate", "run"]
