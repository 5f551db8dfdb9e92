# One image for every JagaJalan service; the command selects the component.
#
# Build stage: the full Python image has a C compiler, so the wheel holds ingest's fast paths
# in C (setup.py; without them ingest takes its pure-Python paths at several times the CPU
# per reading, docs/scaling.md).
FROM python:3.11 AS build
WORKDIR /src
COPY pyproject.toml setup.py requirements.lock README.md ./
COPY jagajalan ./jagajalan
COPY kernel ./kernel
COPY telemetry ./telemetry
COPY analytics ./analytics
COPY store ./store
COPY gateway ./gateway
COPY ingest ./ingest
COPY api ./api
COPY alerts ./alerts
COPY simulators ./simulators
COPY firmware_tools ./firmware_tools
COPY dashboards ./dashboards
COPY registry ./registry
COPY indicators ./indicators
RUN pip wheel --no-cache-dir --no-deps -w /wheels .

# The image: the slim Python image, the wheel and the server's pinned dependencies.
FROM python:3.11-slim
WORKDIR /app
COPY requirements.lock ./
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir -c requirements.lock "$(ls /wheels/jagajalan-*.whl)[server]" \
    && rm -rf /wheels && useradd --system jagajalan
USER jagajalan
ENTRYPOINT ["jagajalan"]
