"""SRGAN networks: generator, discriminator, VGG19 feature extractor, combined GAN.

Built with the Keras 3 functional API, keras.ops and registered layers only, so they run,
save and load on any Keras backend (TensorFlow, JAX, PyTorch). Nothing here imports our other
packages.
"""

import os

# Must be set before TensorFlow is imported: TensorFlow turns oneDNN on by default only on CPUs
# with AVX-512 VNNI or newer, and a training step on an AVX2 CPU is about 4x slower without it.
# Harmless on the JAX and PyTorch backends. Users may still set it to 0 themselves.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
