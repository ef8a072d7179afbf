# bertkit serve in a container: one replica; run several behind a load balancer (docs/deploy.md).
#
#   docker build -t bertkit .
#   docker run --rm -p 8080:8080 -v /path/to/model:/model:ro bertkit
#   docker run --rm -p 8080:8080 -v /path/to/clf:/model:ro bertkit --max-batch-tokens 8192
#
# The model folder is mounted, not baked in, so one image serves any model. Arguments after the image
# name go to `bertkit serve` (see `bertkit serve --help`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1

# the CPU build of PyTorch (the default index would pull a multi-GB CUDA build)
RUN pip install torch --index-url https://download.pytorch.org/whl/cpu

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install . && useradd --create-home --uid 10001 bertkit

USER bertkit
EXPOSE 8080
# inside a container the server must listen on every interface for the published port to reach it
ENTRYPOINT ["bertkit", "serve", "--host", "0.0.0.0", "--port", "8080", "--model", "/model"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=2)"
