"""The loss choices the GAN builders take, by name, without importing Keras.

``train.py`` builds its argparse choices and ``training.config`` validates a config from these
before TensorFlow loads (a typo fails in a second, and ``runtime.stop`` must watch signals
before TensorFlow's threads start); ``models.gan`` and ``models.vgg`` build from the same lists.
"""

# The adversarial losses: the paper's (D says how likely an image is real, binary
# cross-entropy) and ESRGAN's relativistic average GAN (Wang et al. 2018, after
# Jolicoeur-Martineau 2018): D says how much more real an image looks than the other kind does
# on average, and G is trained on both halves, so the real images' gradients reach G too.
ADVERSARIAL_LOSSES = ("bce", "ragan")

# Feature maps after the activation of the j-th conv before the i-th pooling ("VGG i,j").
CONTENT_LAYERS = {
    "vgg22": "block2_conv2",
    "vgg33": "block3_conv3",  # the student report's "9th layer" (layers[9] of Keras's VGG19)
    "vgg54": "block5_conv4",  # the paper's best: SRGAN-VGG54
    # ESRGAN (Wang et al. 2018): the same layer before its ReLU. After the ReLU most of VGG54's
    # maps are zero, so the loss sees little of the texture and of the brightness; before it,
    # it sees both, and ESRGAN found sharper edges and truer brightness.
    "vgg54-prerelu": "block5_conv4",
}
PRE_ACTIVATION = frozenset({"vgg54-prerelu"})
