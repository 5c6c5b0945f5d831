"""SRGAN networks: generator, discriminator, VGG19 feature extractor, combined GAN.

Built with the Keras 3 functional API, keras.ops and registered layers only, so they run,
save and load on any Keras backend (TensorFlow, JAX, PyTorch). Nothing here sets an environment
variable (TensorFlow's settings are the tools' to make, ``runtime.cli``) or imports our other
packages, except ``data.conventions`` (numpy only): the VGG loss turns the generator's output
range into levels as everything else does.
"""
