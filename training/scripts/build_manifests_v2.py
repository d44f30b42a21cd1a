"""Write the Wingman v2 corpus manifests from the registry lists (no network).

    python -m training.scripts.build_manifests_v2 [--pypi-top 600] [--npm-top 1200]

Ranked by the lists' download columns; packages in training/corpus/heldout.txt (read now, so held-out
packages added by other work stay out) are left out. Licences are checked by collect, from each
package's own metadata.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from training.collect import heldout_names
from training.config import CORPUS_DIR, HELDOUT_FILE
from training.manifests import ranked_npm, ranked_pypi, write_manifest

LISTS = Path("/work/.library/env/packages")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pypi-tsv", default=str(LISTS / "pypi.tsv"))
    ap.add_argument("--npm-tsv", default=str(LISTS / "npm.tsv"))
    ap.add_argument("--pypi-top", type=int, default=600)
    ap.add_argument("--npm-top", type=int, default=1200)
    ap.add_argument("--out", default=str(CORPUS_DIR))
    args = ap.parse_args(argv)
    skip = heldout_names(HELDOUT_FILE)
    pypi = ranked_pypi(args.pypi_tsv, args.pypi_top, skip)
    npm = ranked_npm(args.npm_tsv, args.npm_top, skip)
    note = ("Written by `python -m training.scripts.build_manifests_v2`; do not edit by hand.\n"
            "Never lists a package of heldout.txt; collect checks every licence from the package's metadata\n"
            "and skips (and counts) the ones that are not permissive.")
    write_manifest(Path(args.out) / "pypi-v2.txt", pypi,
                   f"Wingman v2: the {len(pypi)} best-ranked PyPI packages of the download ranking (sdists).\n{note}",
                   "rank")
    write_manifest(Path(args.out) / "npm-v2.txt", npm,
                   f"Wingman v2: the {len(npm)} most downloaded npm packages (registry tarballs).\n{note}",
                   "downloads/month")
    print(f"pypi {len(pypi)}, npm {len(npm)}")


if __name__ == "__main__":
    main()
