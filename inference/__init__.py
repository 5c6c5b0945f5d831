"""Super-resolving users' images with a trained generator.

- ``weights``: which generator file ``--weights`` means, and loading it with one-line errors,
  in float32 (the file as saved) or mixed bfloat16 / float16 (``load_generator(path,
  precision)``).
- ``tiling``: ``upscale``, any size, mode and bit depth, in tiles whose seams cannot be seen.
- ``split``: the generator cut into a body and a tail that are tiled separately.
- ``interpolation``: one generator between a PSNR-trained and a GAN-trained one (ESRGAN's
  network interpolation), ``python -m inference.interpolation``.
- ``photo_job``: one upload of the web page (app.py), the same code path as upscale.py.

Exports to other formats are the ``export`` package's (it checks them with evaluation).

Nothing is imported here: import what you need from its module.
"""
