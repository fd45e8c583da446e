# newsbeam: every target sets up what it needs from the repository alone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    ?= out

.PHONY: install run test test-fast lint eval dedup-eval bench clean
BENCHMARK ?= ../shared/benchmarks/aeb-dev

install: $(STAMP)

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: install
	$(BIN)/newsbeam run --input 'seeds/*.txt' --output $(OUT)

test: install lint
	$(BIN)/pytest

test-fast: install
	$(BIN)/pytest -m 'not slow'

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

eval: install
	$(BIN)/python -m pipeline.evaluate $(BENCHMARK) --json $(OUT)/eval.json

dedup-eval: install
	$(BIN)/python -m pipeline.dedup_eval $(BENCHMARK) --json $(OUT)/dedup-eval.json

bench: install
	$(BIN)/python -m pipeline.bench --benchmark $(BENCHMARK) --json $(OUT)/bench.json

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .ruff_cache *.egg-info
