"""What every command-line tool shares: quiet start-up and one-line errors.

A user mistake (``UserError``) prints ``error: <message>`` on stderr and exits 2; Ctrl-C or
SIGTERM is a stop request (``runtime.stop``) that the tool honours between steps or images, and it
exits 130 after saving what it can. A full disk or a read-only or forbidden folder is one line
and exit 1 (``describe_disk_error``). Anything else is a bug and keeps its traceback.
"""

import contextlib
import errno
import logging
import os
import sys

# TensorFlow's C++ start-up chatter is not for users.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# TensorFlow enables oneDNN by default only on CPUs with AVX-512 VNNI or newer; without it a
# training step on an AVX2 CPU is about 4x slower (benchmarks/train_benchmark.py) and
# upscaling 1.5-3x slower (benchmarks/upscale_benchmark.py).
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

from runtime import stop
from runtime.errors import UserError


def import_keras_quietly():
    """Import Keras (and so TensorFlow) with file descriptor 2 pointed at /dev/null.

    TensorFlow's absl logger prints start-up notices ("oneDNN custom operations are on", "All
    log messages before absl::InitializeLog()...") straight to fd 2 before TF_CPP_MIN_LOG_LEVEL
    applies, which would bury a tool's one-line error. An import that fails still raises, and
    its traceback is printed after stderr is restored.

    TensorFlow's Python logger is then set to errors only: its warnings here are "N calls
    triggered tf.function retracing", which every evaluation of several models on images of
    different sizes provokes by design (one trace per model and shape) and a user cannot act on.
    """
    if "keras" not in sys.modules:
        _import_keras_with_fd2_closed()
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        # get_logger() configures the logger on its first call (INFO in Jupyter): after it.
        tf.get_logger().setLevel(logging.ERROR)


def _import_keras_with_fd2_closed():
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import keras  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def run_one_op_at_a_time():
    """Have TensorFlow run one op at a time, each on all cores (an inter-op pool of 1).

    For inference. By default TensorFlow also runs independent ops side by side, so their
    outputs and oneDNN's layout copies are alive together. Measured on the 16-block generator
    with 2 cores, timing body and tail calls interleaved in one process, one at a time is as
    fast within noise, and the body needs 1.34 KB per LR pixel instead of 1.63, the upsampling
    tail 4.4 KB instead of 6.2: a 1000x1000 input in the default tiles peaks at 1.77-1.82 GB
    instead of 1.88-1.93 (``benchmarks/upscale_benchmark.py`` prints the peak). It must be set
    before TensorFlow starts, so it is an environment variable, and one that is already set
    wins.
    """
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")


def run(main, argv=None, *, needs_keras=True, one_op_at_a_time=False):
    """Call ``main(argv)``; turn user errors into one line and an exit code.

    ``needs_keras=False`` for a tool that may finish without a model (evaluate.py's bicubic
    baseline): it then calls ``import_keras_quietly`` itself when it needs Keras, and saves the
    seconds TensorFlow takes to load when it does not. ``one_op_at_a_time``: see
    ``run_one_op_at_a_time``; for tools that only run inference. Signals are watched before
    Keras is imported, so that TensorFlow's threads inherit their blocking (``stop.watching``).
    """
    if one_op_at_a_time:
        run_one_op_at_a_time()
    try:
        with stop.watching():
            if needs_keras:
                import_keras_quietly()
            return call_with_closed_stdout_tolerated(main, argv)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        if error.end_at_once:
            end_at_once(2)
        return 2
    except OSError as error:
        if error.errno not in DISK_ERRORS:
            raise
        print(f"error: {describe_disk_error(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return stop.EXIT_CODE


# What the machine, not the user's input, refuses: no space, no quota, a read-only file system,
# no permission. Every tool writes atomically (a temporary file, then a rename), so when one of
# these stops it, what it wrote before is intact: that is what the line says.
DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def describe_disk_error(error: OSError) -> str:
    where = f"{error.filename}: " if error.filename else ""
    what = error.strerror or os.strerror(error.errno)
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"{where}{what}; free some space and run again (files written before are intact)"
    return f"{where}{what}; files written before are intact"


SIGPIPE_EXIT_CODE = 141  # 128 + SIGPIPE, what a shell reports for a reader that went away


def call_with_closed_stdout_tolerated(main, argv=None):
    """``main(argv) or 0``; exit 141 quietly when stdout's reader went away (``tool | head``).

    Python turns the closed pipe into a BrokenPipeError traceback from whichever ``print`` (or
    the flush at exit) comes first, which reads like a crash of the tool. stdout is flushed
    here, so the error surfaces inside, then pointed at /dev/null, so the interpreter's own
    flush at exit cannot raise it again (the recipe of Python's ``signal`` documentation).
    """
    try:
        code = main(argv) or 0
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return SIGPIPE_EXIT_CODE


def exit_with(code):
    """End the process with ``code``; after a stop request, without the interpreter's teardown.

    By the time a stopped tool returns, its checkpoint or outputs are written atomically and its
    logs are closed. What normal interpreter exit adds is TensorFlow's and the thread pools'
    teardown: measured 3.1-3.6 s after the "stopped" line of a training run on 2 cores, longer
    than the step and the checkpoint before it. A stop should take seconds, so after one the
    standard streams are flushed and the process ends at once (``os._exit``). Other exits keep
    ``sys.exit``'s full clean-up.
    """
    if code == stop.EXIT_CODE:
        end_at_once(code)
    sys.exit(code)


def end_at_once(code):
    """Flush the standard streams and end the process with ``code``, skipping teardown."""
    for stream in (sys.stdout, sys.stderr):
        # A closed or broken pipe: nothing left to save.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
