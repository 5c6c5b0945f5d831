"""A web page to upscale a photo and compare before/after: ``python app.py``.

Serves on http://127.0.0.1:7860 (``--host``/``--port`` to change it; no public link unless
``--share``). Drop a photo, pick one of the generators in ``weights/``, and get a before/after
slider (bicubic | the model) and the full-resolution file, the same file ``upscale.py`` would
write; each generator upscales by its own scale (its file says it: x4 for the shipped ones). A
thin tool over ``inference/`` with Gradio's page: one job at a time (a CPU app), later ones
wait in a queue that shows their place. Uploads and results live in one temporary folder,
removed when the server stops; nothing is written anywhere else.
"""

import argparse
import itertools
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

from models.precision import PRECISIONS
from runtime import cli, stop

TITLE = "SRGAN: upscale a photo"
# An upload larger than this is refused by the server before it is stored (Gradio's limit);
# the pixel limit (--max-megapixels) is the one photos meet first.
MAX_FILE_SIZE = "200mb"


def build_parser():
    parser = argparse.ArgumentParser(
        description="Serve a web page that upscales photos by the chosen generator's scale "
        "(x4 for the shipped ones)."
    )
    arg = parser.add_argument
    arg("--host", default="127.0.0.1", help="address to serve on (default: %(default)s)")
    arg("--port", type=int, default=7860, help="port to serve on (default: %(default)s)")
    arg(
        "--share",
        action="store_true",
        help="also ask Gradio for a public *.gradio.live link (off: the page stays on this host)",
    )
    arg(
        "--max-megapixels",
        type=float,
        default=4.0,
        help="largest input photo in megapixels (default: %(default)s: a 4 MP photo gives a "
        "64 MP result at x4, about 0.2 GB as 8-bit RGB and minutes of CPU; self-ensemble takes "
        "8x the time)",
    )
    arg(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="what the generators compute in, as in upscale.py (default: %(default)s: "
        "bfloat16 where the CPU computes it natively, else float32)",
    )
    arg(
        "--weights-dir",
        type=Path,
        help="the folder of generators to offer (default: this project's weights/)",
    )
    return parser


class Models:
    """The offered generators, each loaded on first use and kept (one job runs at a time)."""

    def __init__(self, shipped, precision):
        self.paths = {name: path for name, path, _ in shipped}
        self.precision = precision
        self.loaded = {}
        self.lock = threading.Lock()

    def get(self, name):
        from inference.weights import load_generator

        with self.lock:
            if name not in self.loaded:
                self.loaded[name] = load_generator(self.paths[name], self.precision)
            return self.loaded[name]


def build_page(shipped, models, workdir, max_megapixels):
    """The Gradio page; ``shipped`` is ``inference.weights.shipped_generators()``'s list."""
    import gradio as gr

    from inference.photo_job import describe, upscale_photo
    from runtime.errors import UserError

    choices = [(f"{name}: {summary}", name) for name, _, summary in shipped]
    counter = itertools.count(1)

    def run(upload, name, ensemble, progress=gr.Progress()):  # noqa: B008 -- Gradio's API
        if upload is None:
            raise gr.Error("Choose or drop a photo first.", print_exception=False)
        if name not in models.paths:
            raise gr.Error("Pick one of the models.", print_exception=False)
        folder = Path(workdir) / f"job-{next(counter)}"
        folder.mkdir()
        original = Path(getattr(upload, "orig_name", None) or upload).name

        def tiles(done, total):
            progress((done, total), desc="tiles", unit="tiles")

        try:
            progress(0, desc=f"loading {name}")
            generator = models.get(name)
            result = upscale_photo(
                upload,
                generator,
                folder,
                name=original,
                max_megapixels=max_megapixels,
                self_ensemble=ensemble,
                progress=tiles,
            )
        except (UserError, MemoryError) as error:
            shutil.rmtree(folder, ignore_errors=True)
            message = str(error) if isinstance(error, UserError) else f"{original}: out of memory"
            raise gr.Error(message, print_exception=False) from None
        return (
            (str(result.before), str(result.after)),
            gr.DownloadButton(
                f"Download {result.download.name}", value=str(result.download), visible=True
            ),
            describe(result, name),
        )

    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(600, 3600)) as page:
        gr.Markdown(
            f"## {TITLE}\n"
            "Drop a photo (PNG, JPEG, WebP, TIFF, BMP; up to "
            f"{max_megapixels:g} megapixels), pick a model, and compare the result with "
            "bicubic enlargement on the slider. One photo is upscaled at a time; others wait "
            "in the queue."
        )
        with gr.Row():
            with gr.Column(scale=1):
                upload = gr.File(label="Photo", type="filepath", elem_id="photo")
                model = gr.Radio(
                    choices,
                    value=choices[0][1] if choices else None,
                    label="Model",
                    elem_id="model",
                )
                ensemble = gr.Checkbox(
                    label="Self-ensemble: average 8 flips and rotations (a little more "
                    "faithful, softer texture, 8x the time)",
                    elem_id="ensemble",
                )
                button = gr.Button("Upscale", variant="primary", elem_id="upscale")
            with gr.Column(scale=2):
                slider = gr.ImageSlider(
                    label="Before (bicubic) | after (model)",
                    type="filepath",
                    elem_id="slider",
                    interactive=False,
                    max_height=700,
                )
                download = gr.DownloadButton(
                    "Download", visible=False, elem_id="download", variant="primary"
                )
                status = gr.Markdown(elem_id="status")
        button.click(run, [upload, model, ensemble], [slider, download, status])
    return page


def check_address(host, port):
    """Refuse, in one line, an address the server could not listen on (Gradio would raise)."""
    from runtime.errors import UserError

    try:
        with socket.create_server((host, port)):
            pass
    except OSError as error:
        # create_server adds "(while attempting to bind on address ...)": the line says it.
        reason = (error.strerror or str(error)).split(" (while attempting")[0]
        raise UserError(
            f"{host}:{port}: cannot serve there ({reason}); pick another --port or --host"
        ) from None


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 1 <= args.port <= 65535:
        parser.error("--port must be between 1 and 65535")
    if not args.max_megapixels > 0:
        parser.error("--max-megapixels must be positive")

    from inference.weights import shipped_generators
    from runtime.errors import UserError

    shipped = shipped_generators(args.weights_dir) if args.weights_dir else shipped_generators()
    if not shipped:
        where = args.weights_dir or "weights/"
        raise UserError(f"{where}: no generator .keras files to offer; train one first")

    check_address(args.host, args.port)
    workdir = tempfile.mkdtemp(prefix="srgan-app-")
    # Gradio keeps uploads in GRADIO_TEMP_DIR: inside our folder, so one rmtree cleans all.
    os.environ["GRADIO_TEMP_DIR"] = os.path.join(workdir, "uploads")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        import gradio as gr

        models = Models(shipped, args.precision)
        page = build_page(shipped, models, workdir, args.max_megapixels)
        page.queue(default_concurrency_limit=1)
        # System fonts: the default theme would fetch Google's, which an offline host lacks.
        theme = gr.themes.Default(
            font=["ui-sans-serif", "system-ui", "sans-serif"],
            font_mono=["ui-monospace", "monospace"],
        )
        _, url, share_url = page.launch(
            server_name=args.host,
            server_port=args.port,
            share=args.share,
            max_file_size=MAX_FILE_SIZE,
            theme=theme,
            quiet=True,
            footer_links=[],
            prevent_thread_lock=True,
        )
        print(f"serving on {url}" + (f" and {share_url}" if share_url else ""), file=sys.stderr)
        print("Ctrl-C or SIGTERM stops it", file=sys.stderr)
        # A stop request is a flag (runtime.stop); the server runs in its own threads.
        while not stop.requested():
            time.sleep(0.2)
        page.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    cli.exit_with(cli.run(main, one_op_at_a_time=True))
