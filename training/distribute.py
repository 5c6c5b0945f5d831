"""Training on several GPUs or machines with tf.distribute's MultiWorkerMirroredStrategy.

``train.py`` runs under the strategy when ``TF_CONFIG`` names more than one worker (the
launcher ``python -m training.launch`` writes it for the workers of one machine), and exactly
as before otherwise: without ``TF_CONFIG`` no strategy is created at all (``SINGLE``).

How a distributed run works, one process (a *worker*) per GPU or machine:

- Every worker makes the same global batch of ``--batch-size`` (batches are functions of
  (seed, step), ``data.pairs``) and trains on its slice, ``Worker.local``: worker ``i`` of
  ``n`` takes rows ``[i * b / n, (i + 1) * b / n)``, of the images and of the label noise
  alike. Keras's ``train_on_batch`` runs the step in ``strategy.run``, scales each worker's
  mean loss by ``1 / n`` and sums the gradients over the workers (an all-reduce), so the update
  is the global batch's. BatchNormalization is made ``synchronized`` (its batch statistics
  are all-reduced too): without it each worker normalised by its own slice, and the moving
  statistics, which Keras updates without aggregation, drifted apart between the workers.
- The models are built, compiled and restored inside ``strategy.scope()`` (variables are
  mirrored; their initial values are broadcast from worker 0).
- Only the chief (task 0) writes: run.log, config.json, history.csv, TensorBoard, samples and
  checkpoints, and only it validates. The others write nothing to the run directory. Reading a
  mirrored variable is local, so saving and validating need no other worker; predictions go
  through a view of the model built outside the strategy (``local_view``), because Keras's
  ``predict_on_batch`` under the strategy gathers every worker's outputs, a collective op
  that would wait for workers that are not validating.
- Every worker resumes from the chief's checkpoint: the run directory must be on a filesystem
  that every worker sees (one machine, or NFS and the like).
- A stop request (Ctrl-C, SIGTERM) is agreed on at every check (a one-integer all-reduce), so
  all workers stop after the same step and the chief saves, as in one process.
- A worker that dies or cannot be reached ends the others within seconds: TensorFlow's
  coordination service misses its heartbeats and aborts the collectives, and
  ``collective_errors`` turns that into one line. Collectives also time out after
  ``$SRGAN_COLLECTIVE_TIMEOUT`` seconds (default 1800), which must exceed the chief's longest
  validation and checkpoint, since the other workers wait in the next step's all-reduce.

One Keras fix, ``fix_keras_metric_reduction``, is needed with Keras 3.15 (see there).
"""

import contextlib
import dataclasses
import json
import os
import sys

from runtime import rundir, stop
from runtime.errors import UserError

TIMEOUT_ENV = "SRGAN_COLLECTIVE_TIMEOUT"
DEFAULT_TIMEOUT_SECONDS = 1800

# The Keras versions on which fix_keras_metric_reduction is proven by tests/test_distribute.py
# (the bug reproduced without it, and the fixed run matching one process).
KERAS_FIX_PROVEN = ("3.15.1",)


class WorkerLost(UserError):
    """A collective op failed: another worker died, stopped or cannot be reached.

    The process then ends at once after its one line: the interpreter's teardown of
    TensorFlow's collective runtime, with a peer gone, printed a ``multiprocessing`` pool's
    "Bad file descriptor" traceback under it (seen once in CI's kill-a-worker test). The run's
    logs are closed and its checkpoints written before the error reaches the CLI.
    """

    end_at_once = True


def cluster_from_tf_config(text):
    """(rank, number of workers, is chief) from a TF_CONFIG string, or None for one worker.

    Ranks: the ``chief`` task (if the cluster has one) is 0, then the ``worker`` tasks in
    order. Without a ``chief`` job, worker 0 is the chief, as TensorFlow has it.
    """
    if not text:
        return None
    try:
        config = json.loads(text)
        cluster, task = config["cluster"], config["task"]
        kind, index = task["type"], int(task["index"])
    except (ValueError, KeyError, TypeError) as error:
        raise UserError(f"TF_CONFIG is not valid: {error}") from None
    chiefs = list(cluster.get("chief", []))
    workers = list(cluster.get("worker", []))
    count = len(chiefs) + len(workers)
    if count <= 1:
        return None
    if kind not in ("chief", "worker") or set(cluster) - {"chief", "worker"}:
        raise UserError("TF_CONFIG: only 'chief' and 'worker' tasks train (no 'ps', 'evaluator')")
    rank = index if kind == "chief" else len(chiefs) + index
    return rank, count, rank == 0


@dataclasses.dataclass
class Worker:
    """This process's place in the run: rank ``index`` of ``count``, and the strategy (None:
    one process, as before)."""

    index: int = 0
    count: int = 1
    strategy: object = None
    _views: dict = dataclasses.field(default_factory=dict, repr=False)

    @property
    def distributed(self):
        return self.strategy is not None

    @property
    def is_chief(self):
        """The one worker that validates and writes the run (task 0)."""
        return self.index == 0

    def scope(self):
        """Where models are built, compiled and restored: the strategy's scope."""
        return self.strategy.scope() if self.distributed else contextlib.nullcontext()

    def check_batch_size(self, batch_size):
        if batch_size % self.count:
            raise UserError(
                f"--batch-size {batch_size} is the global batch: it must divide evenly among "
                f"the {self.count} workers"
            )

    def local(self, array):
        """This worker's rows of a global batch (all of it in one process)."""
        if not self.distributed:
            return array
        size = len(array) // self.count
        return array[self.index * size : (self.index + 1) * size]

    def predict(self, model, x):
        """``model.predict_on_batch(x)`` for this worker's rows alone (see ``local_view``)."""
        if not self.distributed:
            return model.predict_on_batch(x)
        view = self._views.get(id(model))
        if view is None:
            view = self._views[id(model)] = local_view(model)
        return view.predict_on_batch(x)

    def prepare(self, networks):
        """Synchronise the batch norms of the networks just built (before any step traces)."""
        if not self.distributed:
            return
        import keras

        for model in (networks.generator, networks.discriminator):
            for layer in model.layers if model is not None else ():
                if isinstance(layer, keras.layers.BatchNormalization):
                    layer.synchronized = True

    def _sum(self, value):
        import tensorflow as tf

        total = self.strategy.reduce(
            tf.distribute.ReduceOp.SUM, tf.constant(int(value), tf.int32), axis=None
        )
        return int(total)

    def check_stop(self):
        """``runtime.stop.check``, agreed by every worker: if one of them was asked to stop,
        all stop here, after the same step."""
        if not self.distributed:
            return stop.check()
        if self._sum(stop.requested()) > 0:
            raise stop.Stopped

    def from_chief(self, value, choices):
        """The chief's ``value`` (one of ``choices``) on every worker."""
        if not self.distributed:
            return value
        return choices[self._sum(choices.index(value) if self.is_chief else 0)]

    @contextlib.contextmanager
    def collective_errors(self, run_dir):
        """Turn a failed collective op into one line that says what to do."""
        if not self.distributed:
            yield
            return
        import tensorflow as tf

        try:
            yield
        except (
            tf.errors.UnavailableError,
            tf.errors.DeadlineExceededError,
            tf.errors.CancelledError,
            tf.errors.AbortedError,
        ) as error:
            latest = rundir.latest_checkpoint(run_dir)
            raise WorkerLost(
                f"worker {self.index} of {self.count}: the cluster broke ({type(error).__name__}: "
                f"{collective_failure(str(error.message))}); last checkpoint: "
                f"{latest or 'none yet'}; restart every worker with --resume"
            ) from None


SINGLE = Worker()


def collective_failure(message):
    """The cause in a failed collective's message, without TensorFlow's node names, Python
    stacks and advice, in at most 160 characters."""
    text = " ".join(message.split())
    if "timed out" in text:
        return f"a collective op timed out after {collective_timeout():g} s (${TIMEOUT_ENV})"
    marker = "Collective ops is aborted by: "
    if marker in text:
        text = text.rsplit(marker, 1)[1]
    for end in (" The tasks have crashed", " Additional GRPC", " [[", " [Op:", " The error could"):
        text = text.split(end, 1)[0]
    text = text.strip(" .:")
    return text[:157] + "..." if len(text) > 160 else text


def local_view(model):
    """The same layers and variables as a model built outside any strategy.

    Its ``predict_on_batch`` runs on this worker alone: Keras's, on a model built under
    MultiWorkerMirroredStrategy, concatenates every worker's outputs (``strategy.gather``),
    which waits for all of them. Reading mirrored variables is local, so the view sees the
    trained weights.
    """
    import keras
    import tensorflow as tf

    if tf.distribute.has_strategy():
        raise RuntimeError("local_view must be called outside strategy.scope()")
    return keras.Model(model.input, model.output, name=model.name)


def collective_timeout():
    text = os.environ.get(TIMEOUT_ENV)
    if not text:
        return DEFAULT_TIMEOUT_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        raise UserError(f"${TIMEOUT_ENV} must be a number of seconds, got {text!r}") from None
    if seconds <= 0:
        raise UserError(f"${TIMEOUT_ENV} must be positive, got {text!r}")
    return seconds


def worker_from_environment(environ=None):
    """``SINGLE`` unless ``TF_CONFIG`` names several workers; then this worker, with a
    MultiWorkerMirroredStrategy. Must run before TensorFlow has been initialised (the
    strategy configures collectives at start-up), so ``training.loop.train`` calls it first."""
    environ = os.environ if environ is None else environ
    cluster = cluster_from_tf_config(environ.get("TF_CONFIG"))
    if cluster is None:
        return SINGLE
    rank, count, _ = cluster
    import tensorflow as tf

    if not fix_keras_metric_reduction():
        import keras

        print(
            f"note: Keras {keras.__version__}: training/distribute.py's metric-reduction fix is "
            f"proven on Keras {', '.join(KERAS_FIX_PROVEN)} only, and is not applied",
            file=sys.stderr,
        )
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=collective_timeout())
    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    except RuntimeError as error:
        raise UserError(f"cannot start the distributed strategy: {error}") from None
    devices = strategy.extended.worker_devices
    if len(devices) != 1:
        raise UserError(
            f"worker {rank} sees {len(devices)} GPUs: run one worker per GPU (set "
            "CUDA_VISIBLE_DEVICES for each, as python -m training.launch does)"
        )
    if strategy.num_replicas_in_sync != count:
        raise UserError(
            f"TF_CONFIG names {count} workers, the strategy has "
            f"{strategy.num_replicas_in_sync} replicas"
        )
    if strategy.extended.should_checkpoint != (rank == 0):
        raise UserError("TF_CONFIG: the chief must be task 0 (the 'chief' task or worker 0)")
    return Worker(index=rank, count=count, strategy=strategy)


# -- the Keras fix ------------------------------------------------------------------------
#
# keras-team/keras#20585 ("Does Keras 3 work with tf.distribute.MultiWorkerMirroredStrategy?",
# open) and tensorflow/tensorflow#72388 ("tf.distribute and keras 3 incompatibility: ValueError:
# Invalid reduction dimension 0 for input with 0 dimensions"). Keras 3's TensorFlow trainer
# reduces what a train/test step returns (the metrics: scalars) with
# ``reduce_per_replica(..., "auto")``, which under MultiWorkerMirroredStrategy calls
# ``strategy.reduce("MEAN", v, axis=0)``: a mean along the batch axis of a scalar, so tracing
# every train_on_batch (and fit) fails with that ValueError. The mean over the workers is
# ``axis=None``; it is what the same function computes for a one-machine MirroredStrategy
# (``tf.reduce_mean`` of the replicas' values). Everything else the trainer does under the
# strategy was measured right (tests/test_distribute.py): the gradients are summed over the
# workers after each worker's mean loss is scaled by 1 / workers.


def _mean_over_workers(original):
    def reduce_per_replica(values, strategy, reduction):
        from keras.src import tree
        from keras.src.backend.tensorflow import trainer

        if reduction in ("auto", "mean") and trainer._collective_all_reduce_multi_worker(strategy):
            return tree.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return original(values, strategy, reduction)

    reduce_per_replica.srgan_fix = True
    reduce_per_replica.original = original
    return reduce_per_replica


def fix_keras_metric_reduction(*, force=False):
    """Replace Keras's multi-worker metric reduction (see above); only on the Keras versions
    it is proven on, unless ``force``. Returns whether the fix is in place."""
    import keras
    from keras.src.backend.tensorflow import trainer

    if getattr(trainer.reduce_per_replica, "srgan_fix", False):
        return True
    if keras.__version__ not in KERAS_FIX_PROVEN and not force:
        return False
    trainer.reduce_per_replica = _mean_over_workers(trainer.reduce_per_replica)
    return True


def unfix_keras_metric_reduction():
    """Undo ``fix_keras_metric_reduction`` (for the test that proves the fix is needed)."""
    from keras.src.backend.tensorflow import trainer

    while getattr(trainer.reduce_per_replica, "srgan_fix", False):
        trainer.reduce_per_replica = trainer.reduce_per_replica.original


class Discard:
    """What a non-chief worker writes its logs to: nothing."""

    def write(self, *args, **kwargs):
        pass

    scalars = flush = close = write


def detached(model):
    """``model``, or its ``local_view`` if it was built under a tf.distribute strategy."""
    strategy = getattr(model, "_distribute_strategy", None)  # Keras's TF trainer sets it
    return model if strategy is None else local_view(model)
