# newsbeam: every target sets up what it needs from the repository alone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
RUNTIME := $(VENV)/.runtime
CONSTRAINTS := constraints.txt
OUT    ?= out

.PHONY: install run test test-fast lint eval train-cleaner dedup-eval bench report-png constraints clean
BENCHMARK ?= ../shared/benchmarks/aeb-dev
EVAL_SETS ?= ../shared/benchmarks/aeb-dev ../shared/benchmarks/dragnet-dev

install: $(STAMP)

# The project with its dev extras (tests, linters), at the versions of constraints.txt.
$(STAMP): pyproject.toml setup.py $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e '.[dev]'
	touch $(RUNTIME) $(STAMP)

# The project alone (what `make run` needs), unless `make install` already put in more.
$(RUNTIME): pyproject.toml setup.py $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e .
	touch $(RUNTIME)

run: $(RUNTIME)
	$(BIN)/newsbeam run --input 'seeds/*.txt' --output $(OUT)

test: install lint
	$(BIN)/pytest

test-fast: install
	$(BIN)/pytest -m 'not slow'

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

eval: install
	$(BIN)/python -m newsbeam.pipeline.bench.evaluate $(EVAL_SETS) --json $(OUT)/eval.json

# transforms/block_model.json: the whole-page block model, trained on $(BENCHMARK) alone (MIT
# licence; never on an evaluation-only set).
train-cleaner: install
	$(BIN)/python -m newsbeam.pipeline.bench.train_cleaner $(BENCHMARK)

dedup-eval: install
	$(BIN)/python -m newsbeam.pipeline.bench.dedup_eval $(BENCHMARK) --json $(OUT)/dedup-eval.json

bench: install
	$(BIN)/python -m newsbeam.pipeline.bench.bench --benchmark $(BENCHMARK) --json $(OUT)/bench.json

# docs/report.png: the report of a fresh run on the seeds, as headless Chromium draws it
# (Debian: apt-get install chromium).
report-png: install
	tmp=$$(mktemp -d) && cd $$tmp && \
	$(CURDIR)/$(BIN)/newsbeam run --input '$(CURDIR)/seeds/*.txt' --output out && \
	$(CURDIR)/$(BIN)/newsbeam report out -o report.html && cd $(CURDIR) && \
	chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
	  --disable-component-update --disable-sync --no-first-run --user-data-dir=$$tmp/profile \
	  --hide-scrollbars --window-size=1000,2400 --screenshot=docs/report.png \
	  file://$$tmp/report.html 2>/dev/null; \
	status=$$?; rm -rf $$tmp; exit $$status

# constraints.txt from what .venv holds now (after changing a range in pyproject.toml and
# installing): every package pinned, newsbeam itself and pip left out.
constraints: install
	{ sed -n '1,2p' $(CONSTRAINTS); $(BIN)/pip list --format=freeze --exclude-editable \
	  | grep -vi '^newsbeam=\|^pip='; } > $(CONSTRAINTS).new && mv $(CONSTRAINTS).new $(CONSTRAINTS)

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .ruff_cache *.egg-info
