# `make demo`: set up .venv and train briefly on the embedded sample photos, both upsamplers.
# `make test`: set up .venv and run the linter and the test suite (what CI runs).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_FLAGS ?= --dataset sample --preset paper --blocks 16 --no-progress

.PHONY: setup demo test lint benchmark
setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

demo: setup
	for up in pixelshuffle upsampling; do \
	  $(PY) train.py $(DEMO_FLAGS) --upsample $$up --stage pretrain --epochs 2 --steps-per-epoch 100 \
	    --run-dir runs/demo_srresnet_$$up || exit 1; \
	  $(PY) train.py $(DEMO_FLAGS) --upsample $$up --stage gan --epochs 2 --steps-per-epoch 15 \
	    --init-generator runs/demo_srresnet_$$up --run-dir runs/demo_srgan_$$up || exit 1; \
	done
	@echo "Look at runs/demo_*/: samples/*.png (LR | SR | HR), loss.png, validation.csv"

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test: setup
	$(PY) -m ruff check .
	$(PY) -m pytest -q

benchmark: setup
	$(PY) benchmarks/train_benchmark.py
