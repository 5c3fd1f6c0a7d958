# dispatcher — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= config

.PHONY: run test bench lint check sample clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml examples/dispatcher-fieldvisit/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres]' -e examples/dispatcher-fieldvisit
	touch $@ $(VENV)/.installed

var/sample-people.csv: config/sample_data.py | $(VENV)/.installed
	mkdir -p var
	umask 077 && $(BIN)/python config/sample_data.py > $@.tmp && mv $@.tmp $@

sample: var/sample-people.csv  ## load the example people and cases into the store
	$(BIN)/dispatcher --config $(CONFIG) import var/sample-people.csv

run: $(VENV)/.installed sample  ## set up and run the daemon on config/ (SQLite under var/)
	$(BIN)/dispatcher --config $(CONFIG) check
	exec $(BIN)/dispatcher --config $(CONFIG) run

# Test workers: by default one and a half per core, since many tests spend much of their time
# waiting on a daemon, a peer or an outage; a file's tests run on one worker.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); echo $$(( n + n / 2 )))

test: $(VENV)/.installed-dev  ## set up and run the test suite (TEST_WORKERS workers)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

bench: $(VENV)/.installed-dev  ## print throughput and latency figures (asserts nothing)
	$(BIN)/python -m benchmarks

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check dispatcher plugins tests benchmarks examples
	$(BIN)/ruff format --check dispatcher plugins tests benchmarks examples
	$(BIN)/mypy -p dispatcher
	$(BIN)/mypy plugins
	$(BIN)/mypy examples/dispatcher-fieldvisit/dispatcher_fieldvisit
	$(BIN)/lint-imports

check: $(VENV)/.installed  ## validate the config directory
	$(BIN)/dispatcher --config $(CONFIG) check

clean:
	rm -rf var .pytest_cache
