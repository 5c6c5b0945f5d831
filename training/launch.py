"""Run ``train.py`` as several workers on this machine: ``python -m training.launch --workers 2
-- --dataset DF2K --run-dir runs/df2k ...``.

Each worker is a ``train.py`` process with its own ``TF_CONFIG`` (the cluster on free
loopback ports, and its index) and its own process group; ``training.distribute`` does the
rest. With GPUs, worker ``i`` sees the ``i``-th (``CUDA_VISIBLE_DEVICES``); on CPUs the cores
are shared out (``TF_NUM_INTRAOP_THREADS``). The chief's output (worker 0) is streamed here, the
others' go to files in a temporary folder, shown when a worker fails.

If a worker dies, the others are killed at once and one line says which and how to resume: the
run keeps its last checkpoint (checkpoints are written atomically). Ctrl-C or SIGTERM is
forwarded to every worker, which stop together after the same step (the chief saves), as one
``train.py`` does; a second one stops them at once.
"""

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from runtime import rundir

REPO_ROOT = Path(__file__).resolve().parents[1]
TRAIN = REPO_ROOT / "train.py"
STOPPED = 130  # what train.py exits with after a stop request (runtime.stop.EXIT_CODE)


def free_ports(count, host="127.0.0.1"):
    """``count`` distinct ports that were free on ``host`` a moment ago."""
    sockets = []
    try:
        for _ in range(count):
            handle = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            handle.bind((host, 0))
            sockets.append(handle)
        return [handle.getsockname()[1] for handle in sockets]
    finally:
        for handle in sockets:
            handle.close()


def tf_config(addresses, index):
    return json.dumps(
        {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}}
    )


def visible_gpus(environ):
    """The GPUs to share out: ``CUDA_VISIBLE_DEVICES`` if set, else those ``nvidia-smi``
    lists, else none (CPU workers)."""
    if environ.get("CUDA_VISIBLE_DEVICES") is not None:
        return [gpu for gpu in environ["CUDA_VISIBLE_DEVICES"].split(",") if gpu.strip()]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        listing = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(index) for index, line in enumerate(listing.splitlines()) if line.startswith("GPU")]


def worker_environments(workers, environ=None, host="127.0.0.1"):
    """One environment per worker: TF_CONFIG, and its GPU or its share of the CPU cores."""
    environ = dict(os.environ if environ is None else environ)
    addresses = [f"{host}:{port}" for port in free_ports(workers, host)]
    gpus = visible_gpus(environ)
    if gpus and len(gpus) < workers:
        raise SystemExit(f"error: {workers} workers need {workers} GPUs; {len(gpus)} are visible")
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    environments = []
    for index in range(workers):
        env = {**environ, "TF_CONFIG": tf_config(addresses, index)}
        if gpus:
            env["CUDA_VISIBLE_DEVICES"] = gpus[index]
        else:
            env.setdefault("TF_NUM_INTRAOP_THREADS", threads)
            env.setdefault("OMP_NUM_THREADS", threads)
        env.setdefault("PYTHONUNBUFFERED", "1")
        environments.append(env)
    return environments


def with_run_dir(train_args):
    """``train_args`` naming one run directory for all workers: a fresh run without
    ``--run-dir`` gets the name train.py would choose, fixed here once. The command line is
    read with train.py's own flags (``training.arguments``), imported here only: the launcher
    starts without them."""
    from training.arguments import build_parser, config_from_args

    parser = build_parser()
    args = parser.parse_args(train_args)
    if args.summary:
        return train_args, None
    if args.resume:
        run_dir = args.resume if isinstance(args.resume, str) else args.run_dir
        return train_args, run_dir
    if args.run_dir:
        return train_args, args.run_dir
    config = config_from_args(args, train_args)
    run_dir = str(Path("runs") / rundir.default_run_name(config))
    return [*train_args, "--run-dir", run_dir], run_dir


def exit_reason(code):
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with {code}"


def tail(path, lines=20):
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.replace("\r", "\n").splitlines()[-lines:])


class Launch:
    """The workers of one run and what watches them."""

    def __init__(self, workers, train_args, *, log_dir=None, grace=10.0):
        self.count = workers
        self.train_args, self.run_dir = with_run_dir(train_args)
        self.grace = grace
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix="srgan-workers-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.processes = []
        self.signals = 0

    def start(self):
        command = [sys.executable, str(TRAIN), *self.train_args]
        for index, env in enumerate(worker_environments(self.count)):
            if index == 0:
                output = subprocess.PIPE
            else:
                output = open(self.log_dir / f"worker_{index}.log", "wb")  # noqa: SIM115
            process = subprocess.Popen(
                command,
                cwd=os.getcwd(),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: signals come from here only
            )
            if index:
                output.close()
            self.processes.append(process)
        (self.log_dir / "workers.json").write_text(
            json.dumps({"pids": [p.pid for p in self.processes], "run_dir": self.run_dir})
        )
        self._stream = threading.Thread(target=self._copy_chief, daemon=True)
        self._stream.start()

    def _copy_chief(self):
        """The chief's bytes to our stdout as they come (progress bars use carriage returns),
        and to worker_0.log for the failure report."""
        source = self.processes[0].stdout.fileno()
        with open(self.log_dir / "worker_0.log", "wb") as copy:
            while chunk := os.read(source, 65536):
                sys.stdout.buffer.write(chunk)
                sys.stdout.buffer.flush()
                copy.write(chunk)

    def forward(self, signum, frame=None):
        self.signals += 1
        for process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signum)

    def kill_all(self):
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # the group: anything it started too
        for process in self.processes:
            process.wait()

    def resume_hint(self):
        if not self.run_dir:
            return ""
        command = f"python -m training.launch --workers {self.count} -- --resume {self.run_dir}"
        return f"; resume with: {command}"

    def watch(self):
        """Wait for the workers; kill them all as soon as one fails. Returns the exit code."""
        while True:
            codes = [process.poll() for process in self.processes]
            failure = first_failure(codes)
            if failure:
                index, code = failure
                self.kill_all()
                self._stream.join(timeout=5)
                if index:  # the chief's output is already on the screen
                    shown = tail(self.log_dir / f"worker_{index}.log")
                    if shown:
                        print(f"--- worker {index}'s last lines ---\n{shown}\n---", flush=True)
                print(
                    f"error: worker {index} of {self.count} {exit_reason(code)}; stopped the "
                    f"others; worker logs in {self.log_dir}{self.resume_hint()}",
                    file=sys.stderr,
                    flush=True,
                )
                return 1
            if all(code is not None for code in codes):
                self._stream.join(timeout=5)
                if any(code == STOPPED for code in codes):
                    print(f"stopped{self.resume_hint()}", file=sys.stderr, flush=True)
                    return STOPPED
                shutil.rmtree(self.log_dir, ignore_errors=True)
                return 0
            time.sleep(0.2)


def first_failure(codes):
    """(index, exit code) of the worker whose failure to report, from the workers' codes
    (None: still running), or None when none failed.

    The cause before its consequences: a worker killed by a signal first. The others then end
    with one line and exit 2 within a second (``WorkerLost`` ends at once), often before the
    next poll, so the killed worker and the others can be seen dead together.
    """
    failed = [(index, code) for index, code in enumerate(codes) if code not in (None, 0, STOPPED)]
    if not failed:
        return None
    return min(failed, key=lambda failure: (failure[1] >= 0, failure[0]))


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m training.launch",
        description="Train with several workers on this machine (tf.distribute's "
        "MultiWorkerMirroredStrategy): python -m training.launch --workers 2 -- <train.py "
        "arguments>",
    )
    parser.add_argument("--workers", type=int, required=True, help="processes: one per GPU")
    parser.add_argument(
        "--log-dir", help="where the other workers' output goes (default: a temp dir)"
    )
    parser.add_argument("train_args", nargs=argparse.REMAINDER, help="-- then train.py's arguments")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    train_args = args.train_args[1:] if args.train_args[:1] == ["--"] else args.train_args
    if args.workers < 1:
        print("error: --workers must be at least 1", file=sys.stderr)
        return 2
    launch = Launch(args.workers, train_args, log_dir=args.log_dir)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, launch.forward)
    launch.start()
    try:
        return launch.watch()
    finally:
        if any(process.poll() is None for process in launch.processes):
            launch.kill_all()


if __name__ == "__main__":
    sys.exit(main())
