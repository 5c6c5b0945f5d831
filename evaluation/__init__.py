"""How well a generator super-resolves, measured as the SR papers measure it.

- ``metrics``: PSNR and SSIM on the Y channel with a border shave.
- ``perceptual``: LPIPS (AlexNet) and NIQE beside them; ``niqe``: NIQE itself.
- ``benchmark``: methods (bicubic or a generator) scored on the benchmark datasets.
- ``tables``: the paper's and the student report's tables, CSV and JSON files.
- ``runs``: training run directories, their validation scores and checkpoints.
- ``figures``: the side-by-side comparison, the perception-distortion plot, PSNR curves,
  checkerboard analysis.

Nothing is imported here: import what you need from its module (``metrics`` needs no
matplotlib, ``benchmark`` no TensorFlow until a generator is loaded or LPIPS scored).
"""
