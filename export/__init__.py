"""The generator in other formats: SavedModel, TFLite (LiteRT) and ONNX, each checked by its
own runtime against Keras (``export.py`` is the tool).

Its own layer, above inference and evaluation: an export is checked by upscaling a probe as
``inference`` does and by scoring a benchmark as ``evaluation`` does, and nothing below it
needs to know that files in other formats exist.

- ``files``: ``export_generator`` plans and places the files, each with a sidecar.
- ``serving``: what goes in and out of an exported file (the graph every format is made from).
- ``convert``: writing each format.
- ``runtimes``: running a file with its format's own runtime.
- ``checks``: comparing a file with Keras on a probe image and on a benchmark dataset.
- ``sidecar``: the JSON beside each file.

Nothing is imported here: import what you need from its module. (``import export`` is this
package, not the ``export.py`` tool beside it: run the tool as a script.)
"""
