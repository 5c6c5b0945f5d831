"""Super-resolving users' images with a trained generator.

- ``weights``: which generator file ``--weights`` means, and loading it with one-line errors,
  in float32 (the file as saved) or mixed bfloat16 / float16 (``load_generator(path,
  precision)``).
- ``tiling``: ``upscale``, any size, mode and bit depth, in tiles whose seams cannot be seen.
- ``split``: the generator cut into a body and a tail that are tiled separately.
- ``interpolation``: one generator between a PSNR-trained and a GAN-trained one (ESRGAN's
  network interpolation), ``python -m inference.interpolation``.
- ``export`` (export.py's library): plans and places the files; ``export_serving`` (what goes
  in and out of an exported file), ``export_convert`` (writing each format),
  ``export_runtimes`` (running one), ``export_checks`` (comparing it with Keras) and
  ``export_sidecar`` (the JSON beside it).

Nothing is imported here: import what you need from its module.
"""
