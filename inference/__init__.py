"""Super-resolving users' images with a trained generator.

- ``weights``: which generator file ``--weights`` means, and loading it with one-line errors.
- ``tiling``: ``upscale``, any size, mode and bit depth, in tiles whose seams cannot be seen.
- ``split``: the generator cut into a body and a tail that are tiled separately.

Nothing is imported here: import what you need from its module.
"""
