# The README's two commands: `make quick` (a quick native-vs-Docker run) and `make test`.
# Each does all of its own set-up: virtualenv, Docker engine, benchmark image.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: quick test setup venv engine podman image lint

# Without an engine (none answers and none can be installed), the run still happens: the
# Docker variants fall back to the daemonless oci environment (runc), and say so.
quick: venv
	scripts/engine-up.sh && $(BIN)/bench image build || \
	  echo "make quick: engine set-up or image build failed (above); without an engine, bench run falls back to the daemonless oci environment"
	$(BIN)/bench run --quick

test: venv engine podman
	scripts/browser-deps.sh
	$(BIN)/ruff check .
	$(BIN)/pytest

setup: venv engine image

venv: $(BIN)/bench

$(BIN)/bench: pyproject.toml
	$(PYTHON) -m venv $(VENV) || { apt-get install -y -q python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

engine:
	scripts/engine-up.sh

# podman and its API service: for podman variants and the tests (not needed by `make quick`).
podman:
	scripts/podman-up.sh

image: venv engine
	$(BIN)/bench image build

lint: venv
	$(BIN)/ruff check .
