"""Super-resolving users' images with a trained generator.

- ``weights``: which generator file ``--weights`` means, and loading it with one-line errors,
  in float32 (the file as saved) or mixed bfloat16 / float16 (``load_generator(path,
  precision)``).
- ``tiling``: ``upscale``, any size, mode and bit depth, in tiles whose seams cannot be seen.
- ``split``: the generator cut into a body and a tail that are tiled separately.

Nothing is imported here: import what you need from its module.
"""
