"""runtime/stop.py: signals become a flag checked between steps, a second one exits at once."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from runtime import stop

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_check_raises_a_keyboard_interrupt_only_after_a_request():
    with stop.watching():
        stop.check()  # nothing requested: returns
        stop.request()
        assert stop.requested()
        with pytest.raises(KeyboardInterrupt):
            stop.check()
    assert not stop.requested()  # one command's request does not stop the next


# A fresh interpreter without TensorFlow: the watcher thread mode, as in a real command.
WATCHER_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, threading, time
    from runtime import stop

    blocked_in_worker = []
    with stop.watching():
        # A thread started afterwards (as TensorFlow's are) inherits the blocked signals.
        worker = threading.Thread(
            target=lambda: blocked_in_worker.append(signal.pthread_sigmask(signal.SIG_BLOCK, []))
        )
        worker.start()
        worker.join()
        print("sigterm blocked in worker:", signal.SIGTERM in blocked_in_worker[0], flush=True)
        os.kill(os.getpid(), signal.SIG)
        deadline = time.monotonic() + 10
        while not stop.requested() and time.monotonic() < deadline:
            time.sleep(0.01)
        print("requested:", stop.requested(), flush=True)
        if sys.argv[1] == "twice":
            os.kill(os.getpid(), signal.SIG)
            time.sleep(30)  # the watcher exits the process long before this ends
        print("still running", flush=True)
    print("restored:", signal.SIGTERM not in signal.pthread_sigmask(signal.SIG_BLOCK, []))
    """
)


def run_watcher_script(signal_name, times):
    script = WATCHER_SCRIPT.replace("signal.SIG)", f"signal.{signal_name})")
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", script, times],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result, time.monotonic() - started


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT"])
def test_one_signal_is_a_request_and_nothing_is_raised(signal_name):
    result, _ = run_watcher_script(signal_name, "once")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "sigterm blocked in worker: True",
        "requested: True",
        "still running",
        "restored: True",
    ]
    assert f"{signal_name}: stopping after the current step" in result.stderr


def test_a_second_signal_exits_130_at_once():
    result, seconds = run_watcher_script("SIGTERM", "twice")
    assert result.returncode == stop.EXIT_CODE, result.stderr
    assert "still running" not in result.stdout
    assert "stopped at once, without saving" in result.stderr
    assert seconds < 20  # not the 30 s sleep


def test_with_tensorflow_loaded_python_handlers_set_the_flag_and_are_restored(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow", sys.modules.get("tensorflow", object()))
    before = signal.getsignal(signal.SIGTERM)
    with stop.watching():
        os.kill(os.getpid(), signal.SIGTERM)
        deadline = time.monotonic() + 5
        while not stop.requested() and time.monotonic() < deadline:
            time.sleep(0.01)  # Python runs the handler between bytecodes of the main thread
        assert stop.requested()
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_thread_started_before_the_watch_turns_a_signal_into_a_request_too():
    """Such a thread (OpenBLAS's, started by importing numpy) does not block the signals."""
    script = textwrap.dedent(
        """
        import signal, threading, time
        from runtime import stop

        earlier = threading.Thread(target=time.sleep, args=(2,))
        earlier.start()
        with stop.watching():
            signal.pthread_kill(earlier.ident, signal.SIGTERM)  # lands on the unblocked thread
            deadline = time.monotonic() + 10
            while not stop.requested() and time.monotonic() < deadline:
                time.sleep(0.01)
            print("requested:", stop.requested())
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr  # not killed by SIGTERM's default action
    assert result.stdout.strip() == "requested: True"


def test_a_second_signal_ends_a_process_stuck_in_a_system_call(tmp_path):
    """The main thread blocked in open() on a named pipe nobody writes to: Python handlers
    cannot run there, and a signal may land in a thread numpy started before the watch
    (OpenBLAS's), which does not block it. Two SIGTERMs must still end it, at once."""
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    script = textwrap.dedent(
        """
        import sys
        import numpy  # starts OpenBLAS's threads, with the signals unblocked
        from runtime import stop

        with stop.watching():
            print("ready", flush=True)
            open(sys.argv[1], "rb")
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(fifo)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == "ready"
        time.sleep(0.5)
        for _ in range(2):
            process.send_signal(signal.SIGTERM)
            time.sleep(0.5)
        process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()  # our own child; the assertion below reports the hang
            process.wait()
    err = process.stderr.read()
    assert process.returncode == stop.EXIT_CODE, err
    assert "stopping after the current step" in err and "stopped at once" in err
