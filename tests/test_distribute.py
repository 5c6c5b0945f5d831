"""training/distribute.py: train.py under MultiWorkerMirroredStrategy, two workers on 127.0.0.1.

Each distributed test starts two ``train.py`` workers (tiny models: 1 residual block, 32 px HR)
with a TF_CONFIG naming both, and compares with one process trained here on the same global
batch and seed.

Tolerances: the workers' all-reduce sums the two halves' gradients (and batch-norm sums) in
another order than one process sums the whole batch, so float32 results differ by rounding,
which Adam amplifies where a gradient is near zero (it divides by its root mean square).
Pretraining stays within 1e-5, and so do the generators' outputs; the exception is the biases
of the convs that feed a batch norm, whose gradient is zero in exact arithmetic, so that they
hold nothing but that noise, scaled by Adam (3.8e-5 apart after 4 steps). The GAN stage
amplifies the noise much more: even one process with the samples of each batch in another
order (mathematically the same step) ends 3 GAN steps up to 1e-3 apart. So the GAN comparison
runs in float64 (``use_float64``; Keras's losses stay float32), where the same rounding is
~1e-7: a 1e-5 bound then tests the distributed mathematics (slices, loss scaling, synchronized
batch norm, frozen D) rather than float32 noise.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

from runtime import rundir
from runtime.errors import UserError
from training import checkpoints, distribute
from training.config import resolve_config
from training.launch import free_ports, tf_config
from training.loop import train

REPO_ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
WORKER_TIMEOUT = 420  # two workers on a shared 2-core machine are slow; never hang forever

# A worker: optional test patches, then train.py's main (its argv and patches as JSON).
HARNESS = textwrap.dedent(
    """
    import json, sys
    sys.path[:0] = [{repo!r}, {tests!r}]
    options = json.loads(sys.argv[1])
    from runtime import cli
    import test_distribute as t
    if options.get("float64"):
        t.use_float64(setattr)
    if options.get("report"):
        t.record_gan_steps(options["report"])
    import train
    cli.exit_with(cli.run(train.main, options["argv"]))
    """
).format(repo=str(REPO_ROOT), tests=str(TESTS))


# -- test patches, applied in the workers and in the one-process reference alike ---------
class _Float64Layers:
    """``keras.layers`` with ``dtype=`` dropped: the generator's tanh conv and D's sigmoid are
    pinned to float32 (for mixed precision); float64 everywhere keeps all gradients one dtype."""

    def __getattr__(self, name):
        layer = getattr(keras.layers, name)
        if name not in ("Conv2D", "Dense"):
            return layer

        def build(*args, dtype=None, **kwargs):
            return layer(*args, **kwargs)

        return build


def use_float64(patch):
    """Build every network in float64 (``patch``: ``setattr`` or ``monkeypatch.setattr``)."""
    import contextlib

    from models import discriminator, gan, generator
    from training import networks

    @contextlib.contextmanager
    def float64(precision):
        before = keras.config.dtype_policy()
        keras.config.set_dtype_policy("float64")
        try:
            yield
        finally:
            keras.config.set_dtype_policy(before)

    def is_real(y_true):  # models.gan's D metrics cast their masks to float32
        return keras.ops.cast(keras.ops.greater(y_true[:, 0], 0.5), "float64")

    def correct(y_true, y_pred):
        said_real = keras.ops.greater(y_pred[:, 0], 0.5)
        return keras.ops.cast(keras.ops.equal(said_real, y_true[:, 0] > 0.5), "float64")

    patch(networks, "dtype_policy", float64)
    patch(generator, "layers", _Float64Layers())
    patch(discriminator, "layers", _Float64Layers())
    patch(gan, "_is_real", is_real)
    patch(gan, "_correct", correct)


def weights_of(model):
    return {w.path: keras.ops.convert_to_numpy(w).copy() for w in model.weights}


def record_gan_steps(report):
    """Check each GAN step as tests/test_loop.py does, in this worker: D's weights move in D's
    step (kernels and BatchNorm statistics) and not at all in G's, G's move. Writes a JSON."""
    from training import loop

    original = loop.gan_step
    seen = []

    def checked(networks, lr, hr, real, predict=None):
        generator, discriminator = networks.generator, networks.discriminator
        d_before, g_before = weights_of(discriminator), weights_of(generator)
        after_d = {}
        train_on_batch = discriminator.train_on_batch

        def recording(*args, **kwargs):
            result = train_on_batch(*args, **kwargs)
            after_d.update(weights_of(discriminator))
            return result

        discriminator.train_on_batch = recording
        try:
            losses = original(networks, lr, hr, real, predict)
        finally:
            del discriminator.train_on_batch
        d_after, g_after = weights_of(discriminator), weights_of(generator)

        def moved(a, b):
            return sorted(name for name in a if not np.array_equal(a[name], b[name]))

        seen.append(
            {
                "rows": len(lr),
                "d_moved_in_d_step": moved(d_before, after_d),
                "d_moved_in_g_step": moved(after_d, d_after),
                "g_moved": moved(g_before, g_after),
            }
        )
        Path(report).write_text(json.dumps(seen))
        return losses

    loop.gan_step = checked


# -- helpers -------------------------------------------------------------------------------
def tiny_flags(photo_folder, data_dir, **overrides):
    """train.py flags for tests/test_loop.py's tiny_config, with a global batch of 4."""
    values = {
        "preset": "paper",
        "dataset": str(photo_folder),
        "data-dir": str(data_dir),
        "blocks": 1,
        "hr-size": 32,
        "batch-size": 4,
        "epochs": 2,
        "steps-per-epoch": 2,
        "content-loss": "mse",
        "validation-images": 2,
        "validation-crop": 48,
        "learning-rate": 1e-3,
        "checkpoint-every": 1,
        "label-noise": 0.1,
        "augment": None,
        "precision": "float32",
    }
    values.update(overrides)
    flags = []
    for key, value in values.items():
        flags += [f"--{key}"] if value is None else [f"--{key}", str(value)]
    return flags


def config_of(flags):
    import train

    args = train.build_parser().parse_args(flags)
    return train.config_from_args(args, flags)


def start_workers(argvs, tmp_path, *, float64=False, report=False, env=None):
    """Start one train.py worker per argv, on free loopback ports; returns the processes."""
    addresses = [f"127.0.0.1:{port}" for port in free_ports(len(argvs))]
    processes = []
    for index, argv in enumerate(argvs):
        options = {"argv": argv, "float64": float64}
        if report:
            options["report"] = str(tmp_path / f"report_{index}.json")
        worker_env = {
            **os.environ,
            "TF_CONFIG": tf_config(addresses, index),
            "TF_NUM_INTRAOP_THREADS": "1",
            "SRGAN_COLLECTIVE_TIMEOUT": "300",
            **(env or {}),
        }
        processes.append(
            subprocess.Popen(
                ["nice", "-n", "10", sys.executable, "-c", HARNESS, json.dumps(options)],
                cwd=REPO_ROOT,
                env=worker_env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
        )
    return processes


def finish(processes, timeout=WORKER_TIMEOUT):
    """(returncode, stdout, stderr) of each worker; kills them all if one hangs."""
    results = []
    try:
        for process in processes:
            out, err = process.communicate(timeout=timeout)
            results.append((process.returncode, out, err))
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    return results


def run_workers(argvs, tmp_path, **kwargs):
    results = finish(start_workers(argvs, tmp_path, **kwargs))
    for index, (code, out, err) in enumerate(results):
        assert code == 0, f"worker {index} exited {code}:\n{out[-3000:]}\n{err[-3000:]}"
    return results


def biases_before_batch_norms(model):
    """The paths of the biases of the convs that feed a BatchNormalization. Their gradient is
    zero in exact arithmetic (the batch norm subtracts the batch mean, bias included), so
    their values are rounding noise that Adam scales up to steps of up to the learning rate."""
    paths = set()
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            feeding = layer.input._keras_history.operation
            if getattr(feeding, "bias", None) is not None:
                paths.add(feeding.bias.path)
    return paths


def assert_close(run_a, run_b, models, atol, *, noise_atol=None):
    """Weights of ``models`` and optimiser state in the runs' latest checkpoints, within
    ``atol``; ``noise_atol`` for the biases before batch norms (``biases_before_batch_norms``).
    Returns the largest difference (of the others) and the loaded models of run b."""
    latest_a, latest_b = rundir.latest_checkpoint(run_a), rundir.latest_checkpoint(run_b)
    assert latest_a.name == latest_b.name
    worst, loaded = 0.0, {}
    for name in models:
        a = keras.models.load_model(latest_a / f"{name}.keras")
        b = keras.models.load_model(latest_b / f"{name}.keras")
        loaded[name] = (a, b)
        noise = biases_before_batch_norms(a) if noise_atol is not None else set()
        for wa, wb in zip(a.weights, b.weights, strict=True):
            va, vb = keras.ops.convert_to_numpy(wa), keras.ops.convert_to_numpy(wb)
            tolerance = noise_atol if wa.path in noise else atol
            if wa.path not in noise:
                worst = max(worst, float(np.max(np.abs(va - vb))))
            np.testing.assert_allclose(va, vb, rtol=0, atol=tolerance, err_msg=f"{name} {wa.path}")
    _, opt_a = checkpoints.read_checkpoint(latest_a)
    _, opt_b = checkpoints.read_checkpoint(latest_b)
    for name in opt_a:
        for key in opt_a[name]:  # Adam's moments of the noisy biases are tiny: relative check
            np.testing.assert_allclose(opt_a[name][key], opt_b[name][key], rtol=1e-3, atol=atol)
    return worst, loaded


def history(run_dir):
    import csv

    with open(run_dir / "history.csv", newline="") as handle:
        return list(csv.DictReader(handle))


# -- unit tests ----------------------------------------------------------------------------
def test_without_tf_config_there_is_no_strategy():
    assert distribute.worker_from_environment({}) is distribute.SINGLE
    one = tf_config(["127.0.0.1:1"], 0)
    assert distribute.worker_from_environment({"TF_CONFIG": one}) is distribute.SINGLE
    single = distribute.SINGLE
    assert not single.distributed and single.is_chief and single.strategy is None
    batch = np.arange(12).reshape(4, 3)
    assert single.local(batch) is batch
    with single.scope():  # nothing to enter
        pass


def test_cluster_from_tf_config():
    workers = ["h0:1", "h1:1", "h2:1"]
    assert distribute.cluster_from_tf_config(tf_config(workers, 0)) == (0, 3, True)
    assert distribute.cluster_from_tf_config(tf_config(workers, 2)) == (2, 3, False)
    with_chief = {"cluster": {"chief": ["c:1"], "worker": ["w0:1", "w1:1"]}}
    chief = json.dumps({**with_chief, "task": {"type": "chief", "index": 0}})
    second = json.dumps({**with_chief, "task": {"type": "worker", "index": 1}})
    assert distribute.cluster_from_tf_config(chief) == (0, 3, True)
    assert distribute.cluster_from_tf_config(second) == (2, 3, False)
    for bad in ("{", json.dumps({"cluster": {"worker": workers}})):
        with pytest.raises(UserError, match="TF_CONFIG"):
            distribute.cluster_from_tf_config(bad)
    ps = json.dumps(
        {"cluster": {"worker": workers, "ps": ["p:1"]}, "task": {"type": "worker", "index": 0}}
    )
    with pytest.raises(UserError, match="only 'chief' and 'worker'"):
        distribute.cluster_from_tf_config(ps)


def test_each_worker_takes_its_rows_of_the_global_batch():
    batch = np.arange(8 * 2).reshape(8, 2)
    parts = [distribute.Worker(index=i, count=4, strategy=object()).local(batch) for i in range(4)]
    np.testing.assert_array_equal(np.concatenate(parts), batch)
    assert all(len(part) == 2 for part in parts)
    worker = distribute.Worker(index=1, count=4, strategy=object())
    worker.check_batch_size(8)
    with pytest.raises(UserError, match="divide evenly among the 4 workers"):
        worker.check_batch_size(6)


def test_a_failed_collective_is_said_in_a_few_words():
    heartbeat = (
        "{{function_node __wrapped__CollectiveReduceV2_Nordering_token_1_device_/job:worker/"
        "replica:0/task:0/device:CPU:0}} Collective ops is aborted by: Error reported from "
        "/job:worker/task:1: The following tasks are unhealthy (stopped sending heartbeats):\n"
        "/job:worker/replica:0/task:1\nThe tasks have crashed. Check the task logs for an "
        "earlier error, or scheduler events (e.g. preemption, eviction) to debug further.\nThe "
        "error could be from a previous operation. Restart your program to reset. "
        "[Op:CollectiveReduceV2]"
    )
    assert distribute.collective_failure(heartbeat) == (
        "Error reported from /job:worker/task:1: The following tasks are unhealthy (stopped "
        "sending heartbeats): /job:worker/replica:0/task:1"
    )
    graph = (
        "Graph execution error:\n\nDetected at node CollectiveReduceV2 defined at (most recent "
        'call last):\n  File "train.py", line 1, in <module>\n\nCollective ops is aborted by: '
        "recvmsg:Connection reset by peer\nAdditional GRPC error information from remote target"
        " /job:worker/replica:0/task:1\n\t [[{{node CollectiveReduceV2}}]] "
        "[Op:__inference_one_step_on_data_2906]"
    )
    assert distribute.collective_failure(graph) == "recvmsg:Connection reset by peer"
    timeout = "{{function_node x}} Collective has timed out during execution. [Op:X]"
    assert "timed out after" in distribute.collective_failure(timeout)
    assert len(distribute.collective_failure("x" * 1000)) == 160


def test_a_distributed_run_needs_a_run_dir(photo_folder, tmp_path, monkeypatch):
    monkeypatch.setattr(
        distribute, "worker_from_environment", lambda: distribute.Worker(0, 2, object())
    )
    config = resolve_config("paper", "pretrain", {"dataset": str(photo_folder)})
    with pytest.raises(UserError, match="needs --run-dir"):
        train(config, progress=False)


# -- the Keras fix -------------------------------------------------------------------------
PROBE = textwrap.dedent(
    """
    import json, os, sys
    sys.path.insert(0, {repo!r})
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import numpy as np
    from training import distribute
    worker = distribute.worker_from_environment()  # applies the fix on a proven version
    import keras

    def build():
        keras.utils.set_random_seed(0)
        inputs = keras.Input((3,))
        x = keras.layers.Dense(4)(inputs)
        x = keras.layers.BatchNormalization(synchronized=True)(x)
        model = keras.Model(inputs, keras.layers.Dense(1)(x))
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", metrics=["mae"])
        return model

    x = np.arange(24, dtype="float32").reshape(8, 3) / 10
    y = np.arange(8, dtype="float32").reshape(8, 1) / 8
    x, y = worker.local(x), worker.local(y)
    distribute.unfix_keras_metric_reduction()
    with worker.scope():
        model = build()
    try:
        model.train_on_batch(x, y)
        error = None
    except ValueError as raised:
        error = str(raised).splitlines()[0]
    distribute.fix_keras_metric_reduction(force=True)
    model.train_function = None  # traced again, now with the fix
    logs = [model.train_on_batch(x, y, return_dict=True) for _ in range(2)]
    weights = [keras.ops.convert_to_numpy(w).tolist() for w in model.weights]
    print(json.dumps({{"error": error, "logs": logs, "weights": weights}}))
    """
).format(repo=str(REPO_ROOT))


def test_the_keras_fix_is_needed_and_makes_train_on_batch_match_one_process(tmp_path):
    """Fails loudly on a Keras upgrade: re-prove the fix there, or delete it once upstream
    (keras-team/keras#20585, tensorflow/tensorflow#72388) has fixed the reduction."""
    assert keras.__version__ in distribute.KERAS_FIX_PROVEN, (
        f"Keras {keras.__version__} is not among the versions training/distribute.py's fix is "
        "proven on: run this test's probe there, then add it to KERAS_FIX_PROVEN or delete the fix"
    )
    addresses = [f"127.0.0.1:{port}" for port in free_ports(2)]
    processes = [
        subprocess.Popen(
            ["nice", "-n", "10", sys.executable, "-c", PROBE],
            env={
                **os.environ,
                "TF_CONFIG": tf_config(addresses, index),
                "TF_NUM_INTRAOP_THREADS": "1",
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        for index in range(2)
    ]
    results = finish(processes, timeout=240)
    outputs = []
    for code, out, err in results:
        assert code == 0, err[-3000:]
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    for output in outputs:  # the upstream bug, still there without the fix
        assert output["error"] and "Invalid reduction dimension 0" in output["error"], (
            f"Keras {keras.__version__} no longer fails without the fix: delete it"
        )
    # One process, the whole batch of 8, no strategy: the workers' halves must add up to it.
    # SGD, not Adam: a wrong gradient scale (a missing 1 / workers) would show in its step.
    keras.utils.set_random_seed(0)
    inputs = keras.Input((3,))
    x = keras.layers.Dense(4)(inputs)
    x = keras.layers.BatchNormalization()(x)
    model = keras.Model(inputs, keras.layers.Dense(1)(x))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", metrics=["mae"])
    xs = np.arange(24, dtype="float32").reshape(8, 3) / 10
    ys = np.arange(8, dtype="float32").reshape(8, 1) / 8
    logs = [model.train_on_batch(xs, ys, return_dict=True) for _ in range(2)]
    weights = [keras.ops.convert_to_numpy(w) for w in model.weights]
    for output in outputs:
        for expected, got in zip(logs, output["logs"], strict=True):
            for key in expected:  # the workers' metrics are the global batch's means
                assert got[key] == pytest.approx(float(expected[key]), abs=1e-6), key
        for expected, got in zip(weights, output["weights"], strict=True):
            np.testing.assert_allclose(np.asarray(got), expected, rtol=0, atol=1e-6)


# -- whole runs ----------------------------------------------------------------------------
def test_pretraining_on_two_workers_matches_one_process(photo_folder, tmp_path):
    flags = tiny_flags(photo_folder, tmp_path / "data", stage="pretrain")
    one = train(config_of(flags), run_dir=tmp_path / "one", progress=False)
    chief_dir, other_dir = tmp_path / "chief", tmp_path / "other"
    run_workers(
        [
            [*flags, "--run-dir", str(chief_dir), "--no-progress"],
            [*flags, "--run-dir", str(other_dir), "--no-progress"],
        ],
        tmp_path,
    )
    assert not other_dir.exists(), "a non-chief worker wrote files"
    assert rundir.latest_checkpoint(chief_dir).name == "step_0000004"
    worst, loaded = assert_close(one.run_dir, chief_dir, ["generator"], atol=1e-5, noise_atol=1e-4)
    # The generators compute the same images, those noisy biases included.
    a, b = loaded["generator"]
    lr = np.random.default_rng(0).uniform(size=(2, 12, 12, 3)).astype("float32")
    outputs = np.abs(a.predict_on_batch(lr) - b.predict_on_batch(lr)).max()
    print(f"pretrain, float32: largest weight difference {worst:.2e}, output {outputs:.2e}")
    assert outputs < 1e-5
    for a, b in zip(history(one.run_dir), history(chief_dir), strict=True):
        assert float(a["g_mse"]) == pytest.approx(float(b["g_mse"]), rel=1e-5)


@pytest.fixture(scope="module")
def distributed_gan(photo_folder, tmp_path_factory):
    """A 4-step GAN run on two workers in float64, D's and G's steps recorded in each."""
    tmp_path = tmp_path_factory.mktemp("gan")
    flags = tiny_flags(photo_folder, tmp_path / "data", stage="gan")
    chief_dir, other_dir = tmp_path / "chief", tmp_path / "other"
    run_workers(
        [
            [*flags, "--run-dir", str(chief_dir), "--no-progress"],
            [*flags, "--run-dir", str(other_dir), "--no-progress"],
        ],
        tmp_path,
        float64=True,
        report=True,
    )
    return tmp_path, flags, chief_dir, other_dir


def test_a_gan_run_on_two_workers_matches_one_process(distributed_gan, monkeypatch):
    tmp_path, flags, chief_dir, other_dir = distributed_gan
    use_float64(monkeypatch.setattr)
    one = train(config_of(flags), run_dir=tmp_path / "one", progress=False)
    assert not other_dir.exists(), "a non-chief worker wrote files"
    assert rundir.latest_checkpoint(chief_dir).name == "step_0000004"
    worst, _ = assert_close(one.run_dir, chief_dir, ["generator", "discriminator"], atol=1e-5)
    print(f"GAN, float64: largest weight difference {worst:.2e}")
    for a, b in zip(history(one.run_dir), history(chief_dir), strict=True):
        for key in ("d_real", "d_fake", "g_total", "g_content", "g_adversarial"):
            assert float(a[key]) == pytest.approx(float(b[key]), rel=1e-5, abs=1e-7), key


def test_d_trains_in_its_step_and_is_frozen_in_gs_on_every_worker(distributed_gan):
    tmp_path = distributed_gan[0]
    for index in range(2):
        steps = json.loads((tmp_path / f"report_{index}.json").read_text())
        assert len(steps) == 4
        for step in steps:
            assert step["rows"] == 2  # this worker's half of the global batch of 4
            assert any("kernel" in name for name in step["d_moved_in_d_step"])
            assert any("moving_mean" in name for name in step["d_moved_in_d_step"])
            assert step["d_moved_in_g_step"] == []
            assert any("kernel" in name for name in step["g_moved"])


def test_the_saved_generator_has_no_tensorflow_only_options(distributed_gan):
    chief_dir = distributed_gan[2]
    latest = rundir.latest_checkpoint(chief_dir)
    for name in ("generator.keras", "discriminator.keras"):
        with zipfile.ZipFile(latest / name) as archive:
            config = json.loads(archive.read("config.json"))
        layers = config["config"]["layers"]
        norms = [layer for layer in layers if layer["class_name"] == "BatchNormalization"]
        assert norms and not any(layer["config"]["synchronized"] for layer in norms), name
        assert all(layer["config"]["dtype"]["config"]["name"] == "float32" for layer in norms)
    generator = keras.models.load_model(chief_dir / "generator.keras")  # one device, here
    assert generator.predict_on_batch(np.zeros((1, 5, 6, 3), "float32")).shape == (1, 20, 24, 3)


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_the_saved_generator_loads_on_other_backends(distributed_gan, backend):
    pytest.importorskip(backend)
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(REPO_ROOT)!r})
        import numpy as np, keras
        import models.layers, models.subpixel  # noqa: F401 (registered layers)
        model = keras.models.load_model({str(distributed_gan[2] / "generator.keras")!r})
        print(keras.backend.backend(), model.predict(np.zeros((1, 5, 6, 3), "float32")).shape)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "KERAS_BACKEND": backend},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[-5:] == [backend, "(1,", "20,", "24,", "3)"]


def test_killing_a_worker_ends_the_other_with_one_line_and_resume_continues(photo_folder, tmp_path):
    """Without the launcher: TensorFlow's coordination service notices the dead worker."""
    flags = tiny_flags(photo_folder, tmp_path / "data", stage="pretrain", epochs=30)
    run_dir = tmp_path / "run"
    argv = [*flags, "--run-dir", str(run_dir), "--no-progress"]
    processes = start_workers([argv, argv], tmp_path, env={"TF_CPP_MIN_LOG_LEVEL": "3"})
    try:
        deadline = time.monotonic() + WORKER_TIMEOUT
        while rundir.latest_checkpoint(run_dir) is None:
            assert time.monotonic() < deadline and all(p.poll() is None for p in processes)
            time.sleep(0.2)
        os.killpg(processes[1].pid, signal.SIGKILL)
        killed = time.monotonic()
        _, err = processes[0].communicate(timeout=90)
        seconds = time.monotonic() - killed
    finally:
        finish(processes, timeout=5)
    print(f"the chief ended {seconds:.1f} s after the kill; stderr:\n{err}")
    assert seconds < 60, f"the chief took {seconds:.0f} s to notice"
    assert processes[0].returncode == 2
    errors = [line for line in err.splitlines() if line.strip()]
    assert errors[-1].startswith("error: worker 0 of 2: the cluster broke"), err[-2000:]
    assert sum(line.startswith("error:") for line in errors) == 1
    assert "--resume" in errors[-1] and "\n" not in errors[-1]
    kept = int(rundir.latest_checkpoint(run_dir).name.split("_")[1])
    assert kept >= 2
    # Both workers again, from the chief's checkpoint; two more epochs than were kept.
    resume = ["--resume", str(run_dir), "--epochs", str(kept // 2 + 1), "--no-progress"]
    run_workers([resume, resume], tmp_path)
    assert rundir.latest_checkpoint(run_dir).name == f"step_{kept + 2:07d}"
    steps = [int(row["step"]) for row in history(run_dir)]
    assert steps == list(range(kept + 2))
