# meshgate controller image: slim Python, git for the config repo, non-root user.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY controller ./controller
COPY schemas ./schemas
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[postgres]"

FROM python:3.11-slim
RUN apt-get update \
    && apt-get install --no-install-recommends -y git ca-certificates procps \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 meshgate
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels "meshgate[postgres]" && rm -rf /wheels
USER 10001:10001
WORKDIR /home/meshgate
COPY --chown=meshgate example-config-repo ./example-config-repo
ENV MESHGATE_HOST=0.0.0.0 \
    MESHGATE_PORT=5016 \
    MESHGATE_DATA_DIR=/home/meshgate/data
EXPOSE 5016
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:5016/healthz', timeout=2); sys.exit(0)"
ENTRYPOINT ["meshgate", "serve"]
