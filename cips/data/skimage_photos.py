"""Photographs bundled inside the scikit-image wheel (skimage/data), with their licences.

Only images whose documentation in skimage/data/_fetchers.py says CC0 or public domain are accepted;
the licence sentence is read from that file (not copied here), so a package whose text changes is
refused rather than mislabelled.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from functools import lru_cache
from pathlib import Path

from cips.data.errors import DataError

PYPI_PACKAGE = "scikit-image"
# skimage.data function name -> bundled file, for the photographs usable as demo data
FILES = {
    "astronaut": "astronaut.png",
    "brick": "brick.png",
    "camera": "camera.png",
    "cell": "cell.png",
    "chelsea": "chelsea.png",
    "clock": "clock_motion.png",
    "coffee": "coffee.png",
    "grass": "grass.png",
    "gravel": "gravel.png",
    "hubble_deep_field": "hubble_deep_field.jpg",
    "retina": "retina.jpg",
    "rocket": "rocket.jpg",
}
_PERMISSIVE = re.compile(r"\bCC0\b|CC-0|public domain", re.IGNORECASE)


def data_dir() -> Path:
    """skimage/data of the installed scikit-image, found without importing it."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            f"scikit-image is not installed; install the PyPI package {PYPI_PACKAGE} (pip install -e .)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@lru_cache(maxsize=4)
def _docstrings(fetchers: Path) -> dict[str, str]:
    tree = ast.parse(fetchers.read_text(encoding="utf-8"))
    return {
        node.name: ast.get_docstring(node) or "" for node in tree.body if isinstance(node, ast.FunctionDef)
    }


def licence_of(name: str, directory: Path | None = None) -> str:
    """The licence sentence of bundled image `name` (one line), or a one-line DataError if not CC0/PD."""
    directory = directory or data_dir()
    fetchers = directory / "_fetchers.py"
    if not fetchers.is_file():
        raise DataError(f"{fetchers}: not found; cannot check the licence of skimage image {name!r}")
    doc = _docstrings(fetchers).get(name)
    if doc is None:
        raise DataError(f"{fetchers}: no function {name!r}, so its licence is unknown")
    text = " ".join(doc.split())
    for sentence in re.split(r"(?<=\.)\s+|\s*-{3,}\s*", text):
        if _PERMISSIVE.search(sentence):
            return sentence
    raise DataError(
        f"skimage image {name!r}: its documentation states no CC0 or public-domain licence; not used"
    )


def image_path(name: str, directory: Path | None = None) -> Path:
    """Path of bundled image `name`; one-line errors for unknown names and missing files."""
    if name not in FILES:
        raise DataError(
            f"skimage image {name!r}: not one of the bundled photographs ({', '.join(sorted(FILES))})"
        )
    path = (directory or data_dir()) / FILES[name]
    if not path.is_file():
        raise DataError(f"{path}: not found; reinstall the PyPI package {PYPI_PACKAGE} (pip install -e .)")
    return path
