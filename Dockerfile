# syntax=docker/dockerfile:1
# Two stages: build a virtualenv with everything installed, then copy it into a slim
# runtime image that runs as an unprivileged user.
FROM python:3.11-slim AS build
WORKDIR /app
RUN python -m venv /app/.venv
COPY pyproject.toml README.md alembic.ini ./
COPY src ./src
COPY migrations ./migrations
RUN /app/.venv/bin/pip install --no-cache-dir --upgrade pip \
    && /app/.venv/bin/pip install --no-cache-dir -e .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 batchgate \
    && mkdir -p /var/lib/batchgate && chown batchgate /var/lib/batchgate
WORKDIR /app
COPY --from=build /app /app
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    BATCHGATE_DATA_DIR=/var/lib/batchgate
USER batchgate
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["batchgate", "serve", "--host", "0.0.0.0", "--port", "8000"]
