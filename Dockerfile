# One image for every JagaJalan service; the command selects the component.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml requirements.lock README.md ./
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
RUN pip install --no-cache-dir -c requirements.lock '.[server]' && useradd --system jagajalan
USER jagajalan
ENTRYPOINT ["jagajalan"]
