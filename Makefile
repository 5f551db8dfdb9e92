# JagaJalan: the two commands are `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help install system-deps test lint demo bench chaos gateway-bundle clean

help:
	@echo "make demo   run the whole chain on this machine (embedded broker and store)"
	@echo "make test   install what is missing, then lint and run the test suite"
	@echo "make bench  run the benchmarks (prints one figure a line)"
	@echo "make chaos  the long fault scenarios as root (one figure a line; docs/reliability.md)"
	@echo "make gateway-bundle ARCH=aarch64|armv7l|x86_64   offline install bundle for a gateway"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "JagaJalan needs Python 3.11, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml setup.py $(wildcard ingest/*.c ingest/*.h) requirements.lock requirements-dev.lock | $(BIN)/python
	$(BIN)/python -m pip install -q -c requirements.lock -c requirements-dev.lock -e '.[dev]'
	# Grafana 10.4's typed models beside the pinned 11.6 ones (tests/dashboards/test_structure.py)
	$(BIN)/python -m pip install -q --no-deps --upgrade --target $(VENV)/grafana-sdk-10.4 'grafana-foundation-sdk==1769699796!10.4.0'
	@touch $@

install: $(STAMP)

system-deps:
	@bash scripts/install-system-deps.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

test: system-deps install lint
	$(BIN)/python -m pytest -n 3 --dist loadfile

demo: install
	$(BIN)/jagajalan demo

bench: system-deps install
	$(BIN)/python -m bench

# Long fault scenarios in network namespaces (needs root): figures into docs/reliability.md.
# CHAOS_ARGS="--partition-min 2 --only partition" for a shorter run.
# Then the parsers' property tests (serial frames of every device, payloads, line protocol,
# ingest, Modbus profiles) at FUZZ_EXAMPLES examples each (tests/conftest.py): zero crashes.
FUZZ_EXAMPLES ?= 1000
FUZZ_TESTS = tests/gateway/devices/modbus/test_cases.py tests/gateway/devices/traffic_counter/test_cases.py \
	tests/gateway/devices/weather_ascii/test_cases.py tests/gateway/devices/nmea_gps/test_cases.py \
	tests/gateway/devices/modbus/test_profile.py tests/gateway/devices/modbus/test_profile_features.py \
	tests/telemetry/test_codec.py tests/telemetry/test_compact.py tests/telemetry/test_compact_malformed.py \
	tests/telemetry/test_line_protocol.py \
	tests/telemetry/test_reserved.py tests/ingest/test_pipeline.py \
	tests/ingest/test_json_c.py tests/ingest/test_compact_c.py
chaos: system-deps install
	$(BIN)/python -m testkit.chaos $(CHAOS_ARGS)
	JAGAJALAN_HYPOTHESIS_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -n 2 -q $(FUZZ_TESTS)

# Source and wheels for a gateway without internet (docs/gateway-install.md): dist/*.tar.gz
ARCH ?= aarch64
gateway-bundle: install
	$(BIN)/python scripts/gateway_bundle.py --arch $(ARCH)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
