"""Ctrl-C and SIGTERM as a stop request that the tools honour between steps, never inside
TensorFlow.

Raising KeyboardInterrupt from a signal handler lets the exception surface anywhere in
TensorFlow's or Keras' Python code, and a full run once hung that way inside
``train_on_batch`` and then trained on without a checkpoint. So a signal only sets a flag here:
the training loop checks it after each step, upscale.py between images, and they stop at a
point where everything is consistent. A second signal means "stop now, without saving": the
process exits 130 at once, which loses nothing a kill would not (outputs and checkpoints are
written atomically, so the previous ones stay intact).

``watching()`` installs this for the length of a command. When TensorFlow is not loaded yet (a
real command) it blocks SIGINT and SIGTERM in the main thread, so every thread TensorFlow and
oneDNN start later inherits the block, and one watcher thread takes them with ``sigwait``: the
kernel cannot hand a signal to a worker thread, and the second one acts even while the main
thread is deep in a TensorFlow call. A thread started before (OpenBLAS starts its pool when
numpy is imported) may still take a signal, so Python handlers that set the same flag are
installed as well; Python runs them in the main thread between bytecodes, still never raising
inside TensorFlow, and a thread reading CPython's wakeup fd acts on the same signals at once, so
a second signal ends the process even while the main thread is stuck in a system call (open()
on a named pipe). When TensorFlow is already loaded (a tool called inside a Python session or
a test) those handlers are all there is. Either way the previous state is restored on exit.
"""

import contextlib
import os
import signal
import sys
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM)
EXIT_CODE = 130  # 128 + SIGINT, what shells report for Ctrl-C

_requested = threading.Event()
_closing = threading.Event()


class Stopped(KeyboardInterrupt):
    """A stop request reached a point where the work can stop; KeyboardInterrupt's subclass so
    that every ``except KeyboardInterrupt`` that saves what it can handles it alike."""


def request():
    """Ask the running tool to stop at its next check (what the first signal does)."""
    _requested.set()


def requested():
    return _requested.is_set()


def check():
    """Raise ``Stopped`` if a stop was requested: call it where stopping loses nothing."""
    if _requested.is_set():
        raise Stopped


def _say(text):
    # os.write, not print: the main thread may hold sys.stderr's lock.
    os.write(2, text.encode())


def _on_signal(signum):
    if _requested.is_set():
        _say("stopped at once, without saving; the previous checkpoint is kept\n")
        os._exit(EXIT_CODE)
    _requested.set()
    _say(
        f"{signal.Signals(signum).name}: stopping after the current step "
        "(send it again to stop at once, without saving)\n"
    )


def _watch():
    while True:
        signum = signal.sigwait(SIGNALS)
        if _closing.is_set():
            return
        _on_signal(signum)


@contextlib.contextmanager
def _watcher_thread():
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    _closing.clear()
    watcher = threading.Thread(target=_watch, name="stop-watcher", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        _closing.set()
        signal.pthread_kill(watcher.ident, signal.SIGTERM)  # wakes its sigwait
        watcher.join()
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)


# A signal that lands in a thread that does not block it (the main thread, or one started
# before watching() began) is caught by CPython's C-level handler, which notes it for the
# Python handler and writes its number to the wakeup fd. The Python handler runs only when the
# main thread next executes bytecode, never while it is stuck in a system call (open() on a
# named pipe, a hung network read); a thread reading the wakeup fd acts at once. Both see every
# such signal (the Python handler may see two quick ones as one), so each acts only on signals
# the other has not acted on yet: ``_tripped`` counts them.
_tripped_lock = threading.Lock()
_tripped_seen = {"python": 0, "wakeup": 0}
_tripped_acted = [0]


def _tripped(side, signum):
    with _tripped_lock:
        _tripped_seen[side] += 1
        if _tripped_seen[side] <= _tripped_acted[0]:
            return
        _tripped_acted[0] = _tripped_seen[side]
    _on_signal(signum)


def _read_wakeups(read_fd):
    # Never a landing place for the signals themselves: in a distributed run TensorFlow puts
    # its own SIGTERM handler in place of Python's, and a signal delivered to this thread would
    # reach only that one (this thread starts before watching() blocks them in the main thread).
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    while chunk := os.read(read_fd, 64):
        for signum in chunk:
            if signum in SIGNALS:
                _tripped("wakeup", signum)


@contextlib.contextmanager
def _python_handlers():
    previous = {signum: signal.getsignal(signum) for signum in SIGNALS}
    with _tripped_lock:
        _tripped_seen.update(python=0, wakeup=0)
        _tripped_acted[0] = 0
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    for signum in SIGNALS:
        signal.signal(signum, lambda signum, frame: _tripped("python", signum))
    previous_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    reader = threading.Thread(target=_read_wakeups, args=(read_fd,), name="stop-wakeups")
    reader.daemon = True
    reader.start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous_fd)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        os.close(write_fd)  # the reader sees the end of the pipe and returns
        reader.join()
        os.close(read_fd)


@contextlib.contextmanager
def watching():
    """Turn SIGINT and SIGTERM into stop requests while the block runs (main thread only)."""
    _requested.clear()
    if threading.current_thread() is not threading.main_thread():
        installed = contextlib.nullcontext()  # only the main thread may set signal handling
    elif "tensorflow" in sys.modules:
        installed = _python_handlers()
    else:
        installed = contextlib.ExitStack()
        installed.enter_context(_python_handlers())
        installed.enter_context(_watcher_thread())
    try:
        with installed:
            yield
    finally:
        _requested.clear()
