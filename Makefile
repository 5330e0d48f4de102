# Two commands matter: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
DEMO ?= demo-output
BLIP_MODEL ?= Salesforce/blip-image-captioning-large

# Offline by default (CI, tests, machines without the hub); `make demo HF_HUB_OFFLINE=0` lets BLIP download.
HF_HUB_OFFLINE ?= 1
export HF_HUB_OFFLINE
export NO_ALBUMENTATIONS_UPDATE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: demo test lint bench clean chromium

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,app,test-app]'
	@touch $@

# The app's browser tests drive Debian's chromium (Playwright's own browser download is not used).
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
		{ SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
		  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: $(VENV)/.installed chromium
	$(BIN)/ruff check .
	$(PY) -m pytest -q

lint: $(VENV)/.installed
	$(BIN)/ruff check .

demo: $(VENV)/.installed
	@echo "== 1/7 preview: one photo under every type and severity"
	$(BIN)/make-dataset preview --task all -o $(DEMO)/preview.png
	@echo "== 2/7 synthesize all ten types from the bundled photos into shards + manifests"
	$(BIN)/make-dataset synthesize --task all --variants 3 --max-side 256 --val-fraction 0.3 --workers 2 \
		--out $(DEMO)/data --manifests $(DEMO)/manifests
	$(BIN)/make-dataset merge $(DEMO)/manifests/*.parquet --train $(DEMO)/manifests/train.parquet \
		--val $(DEMO)/manifests/val.parquet
	@echo "== 3/7 verify every member against the manifests, then stats"
	$(BIN)/make-dataset verify --manifest $(DEMO)/manifests/train.parquet --manifest $(DEMO)/manifests/val.parquet
	$(BIN)/make-dataset stats $(DEMO)/manifests/train.parquet $(DEMO)/manifests/val.parquet --json $(DEMO)/stats.json
	@echo "== 4/7 caption the clean images with BLIP ($(BLIP_MODEL))"
	@$(BIN)/make-dataset caption --manifests $(DEMO)/manifests --model $(BLIP_MODEL) \
		|| echo "-> no BLIP model here: captions skipped, DA-CLIP trains its degradation term only"
	@echo "== 5/7 train a tiny DA-CLIP for about a minute (CPU, random init)"
	$(BIN)/train-daclip --shards $(DEMO)/manifests/train.parquet --val $(DEMO)/manifests/val.parquet \
		--model tiny --pretrained none --steps 150 --max-minutes 1.5 --save-every 75 --batch-size 32 \
		--lr 1e-3 --hq-align-weight 1 --workers 1 --overwrite --out $(DEMO)/runs/daclip
	@echo "== 6/7 evaluate on the validation split"
	$(BIN)/daclip evaluate --shards $(DEMO)/manifests/val.parquet --ckpt $(DEMO)/runs/daclip --out $(DEMO)/runs/daclip/eval
	@echo "== 7/7 degrade a photo three ways and classify it"
	$(BIN)/make-dataset degrade --task rain -o $(DEMO)/samples/rainy.png
	$(BIN)/make-dataset degrade --task snow -o $(DEMO)/samples/snowy.png
	$(BIN)/make-dataset degrade --task lowlight -o $(DEMO)/samples/low-light.png
	$(BIN)/daclip classify $(DEMO)/samples/*.png --ckpt $(DEMO)/runs/daclip

bench: $(VENV)/.installed
	$(PY) bench/degradations.py
	$(PY) bench/pipeline.py
	$(PY) bench/caption.py
	$(PY) bench/daclip_cpu.py --minutes 10
	$(PY) bench/app.py

clean:
	rm -rf $(DEMO) .pytest_cache .ruff_cache
