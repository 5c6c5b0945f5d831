"""SRGAN networks: generator, discriminator, VGG19 feature extractor, combined GAN.

Built with the Keras 3 functional API, keras.ops and registered layers only, so they run,
save and load on any Keras backend (TensorFlow, JAX, PyTorch). Nothing here imports our other
packages or sets an environment variable: TensorFlow's settings are the tools' to make
(``runtime.cli``).
"""
