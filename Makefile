# Two commands matter: `make demo` and `make test`. Both create .venv on first use.
# `make demo VENV=/path/to/venv` reuses an installed environment.
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

# Every step runs as `python -m ...` of this checkout, so the demo uses the tree it is run in.
MAKE_DATASET := $(PY) -m pipelines.cli
DACLIP := $(PY) -m daclip.cli
WEIGHTS ?= demo_weights
UNSEEN = $$($(PY) -c 'import pathlib, skimage.data as d; print(pathlib.Path(d.__file__).parent / "rocket.jpg")')

demo: $(VENV)/.installed
	@echo "== 1/9 preview: one photo under every type and severity -> $(DEMO)/preview.png"
	$(MAKE_DATASET) preview --task all --out $(DEMO)/preview.png
	@echo "== 2/9 synthesize all ten types from the bundled photos -> $(DEMO)/data (shards), $(DEMO)/manifests"
	$(MAKE_DATASET) synthesize --task all --variants 3 --max-side 256 --val-fraction 0.3 --workers 2 \
		--out $(DEMO)/data --manifest-dir $(DEMO)/manifests
	$(MAKE_DATASET) merge $(DEMO)/manifests/*.parquet --train $(DEMO)/manifests/train.parquet \
		--val $(DEMO)/manifests/val.parquet
	@echo "== 3/9 verify every member against the manifests, then stats -> $(DEMO)/stats.json"
	$(MAKE_DATASET) verify $(DEMO)/manifests/train.parquet $(DEMO)/manifests/val.parquet
	$(MAKE_DATASET) stats $(DEMO)/manifests/train.parquet $(DEMO)/manifests/val.parquet --out $(DEMO)/stats.json
	@echo "== 4/9 caption the clean images with BLIP ($(BLIP_MODEL)) -> $(DEMO)/manifests/captions.parquet"
	@$(MAKE_DATASET) caption --manifest-dir $(DEMO)/manifests --model $(BLIP_MODEL) \
		|| echo "-> no BLIP model here: captions skipped, DA-CLIP trains its degradation term only"
	@echo "== 5/9 train-daclip runs: a tiny DA-CLIP for 40 steps (CPU, random init) -> $(DEMO)/runs/daclip"
	$(DACLIP) train-daclip --manifest $(DEMO)/manifests/train.parquet --model tiny --pretrained none \
		--steps 40 --max-minutes 1 --batch-size 32 --lr 1e-3 --hq-align-weight 1 --workers 1 --log-every 10 \
		--overwrite --out $(DEMO)/runs/daclip
	@echo "== 6/9 train-restore runs: a tiny U-Net conditioned on that DA-CLIP for 20 steps -> $(DEMO)/runs/restore"
	$(DACLIP) train-restore --manifest $(DEMO)/manifests/train.parquet --daclip $(DEMO)/runs/daclip \
		--model tiny --steps 20 --max-minutes 1 --prediction x0 --loss x0 --lr 2e-3 --warmup 5 --grad-clip 1 \
		--batch-size 8 --patch 48 --workers 1 --log-every 5 --overwrite --out $(DEMO)/runs/restore
	@echo "== 7/9 degrade 128 px samples: a photo the demo weights trained on, and one they never saw -> $(DEMO)/samples"
	$(MAKE_DATASET) degrade --task rain --max-side 128 --hq $(DEMO)/samples/hq/rainy.png --out $(DEMO)/samples/rainy.png
	$(MAKE_DATASET) degrade --task haze --max-side 128 --hq $(DEMO)/samples/hq/hazy.png --out $(DEMO)/samples/hazy.png
	$(MAKE_DATASET) degrade --task lowlight --max-side 128 --hq $(DEMO)/samples/hq/low-light.png \
		--out $(DEMO)/samples/low-light.png
	$(MAKE_DATASET) degrade $(UNSEEN) --task snow --max-side 128 --hq $(DEMO)/samples/hq/unseen-snowy.png \
		--out $(DEMO)/samples/unseen-snowy.png
	$(MAKE_DATASET) degrade $(UNSEEN) --task noise --max-side 128 --hq $(DEMO)/samples/hq/unseen-noisy.png \
		--out $(DEMO)/samples/unseen-noisy.png
	@echo "== 8/9 classify them with the demo DA-CLIP ($(WEIGHTS)/daclip)"
	$(DACLIP) classify $(DEMO)/samples/*.png --ckpt $(WEIGHTS)/daclip
	@echo "== 9/9 restore them in 96 px tiles with the demo restorer ($(WEIGHTS)/restore) -> $(DEMO)/restored"
	$(DACLIP) restore $(DEMO)/samples/*.png --ckpt $(WEIGHTS)/restore --out $(DEMO)/restored --steps 5 \
		--tile 96 --overlap 16 --device cpu --overwrite
	$(DACLIP) compare $(DEMO)/samples/*.png --restored $(DEMO)/restored --hq $(DEMO)/samples/hq \
		--daclip $(WEIGHTS)/daclip --out $(DEMO)/summary.png
	@echo "== done: LQ | restored | HQ with predicted type and PSNR in $(DEMO)/summary.png"

bench: $(VENV)/.installed
	$(PY) bench/degradation_speed.py
	$(PY) bench/pipeline.py
	$(PY) bench/caption.py
	$(PY) bench/daclip_cpu.py --minutes 10
	$(PY) bench/app.py

clean:
	rm -rf $(DEMO) .pytest_cache .ruff_cache
