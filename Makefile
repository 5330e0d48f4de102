# Two commands matter: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
DEMO ?= demo-output

export HF_HUB_OFFLINE := 1
export NO_ALBUMENTATIONS_UPDATE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: demo test lint bench clean

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

test: $(VENV)/.installed
	$(BIN)/ruff check .
	$(PY) -m pytest -q

lint: $(VENV)/.installed
	$(BIN)/ruff check .

demo: $(VENV)/.installed
	$(BIN)/make-dataset preview --task all -o $(DEMO)/preview.png

bench: $(VENV)/.installed
	$(PY) bench/degradations.py

clean:
	rm -rf $(DEMO) .pytest_cache .ruff_cache
