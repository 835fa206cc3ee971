"""Reading HDF5 weight files (Keras's ``model.weights.h5``) from strangers, with limits.

HDF5 can point outside itself: external links to other files, virtual datasets
stitched from other files, datasets whose bytes live in external raw files.
And its headers can claim any shape. :func:`read_datasets` walks the file with
``h5py`` and refuses, naming the object, before reading any data:

* links that are not plain hard links (external or soft links);
* virtual datasets and datasets with external storage;
* datasets whose shape claims more bytes than :data:`MAX_RATIO` times the
  file (uncompressed Keras weights are at most the file's size), more than
  :data:`MAX_ELEMENTS` values, or a non-numeric dtype;
* more than :data:`MAX_OBJECTS` objects.

Needs ``h5py`` (``pip install 'gradkit[keras]'``).
"""

from __future__ import annotations

import io
import math

import numpy as np

from gradkit.utils.optional import require

__all__ = ["HDF5Error", "MAX_ELEMENTS", "MAX_OBJECTS", "MAX_RATIO", "read_datasets"]

MAX_RATIO = 4  # a dataset's bytes vs the file's (compression may shrink zeros a little)
MAX_ELEMENTS = 2 ** 31
MAX_OBJECTS = 100_000


class HDF5Error(ValueError):
    """An HDF5 file that can't be read safely; the message names the object and why."""


def _check_dataset(h5py, ds, path, file_size, what):
    if ds.is_virtual:
        raise HDF5Error(f"{what}: dataset '{path}' is a virtual dataset (its data comes from "
                        "other files); refusing it")
    if ds.external:
        raise HDF5Error(f"{what}: dataset '{path}' keeps its data in external files "
                        f"{[e[0] for e in ds.external][:3]}; refusing it")
    if ds.dtype.kind not in "fiub":
        raise HDF5Error(f"{what}: dataset '{path}' has dtype {ds.dtype}; weights are numbers")
    shape = ds.shape or ()
    count = math.prod(shape)
    nbytes = count * ds.dtype.itemsize
    if count > MAX_ELEMENTS or nbytes > MAX_RATIO * file_size + 1024:
        raise HDF5Error(f"{what}: dataset '{path}' claims shape {shape} ({nbytes:,} bytes) in "
                        f"a {file_size:,}-byte file; refusing it (corrupt or crafted)")


def read_datasets(data, what="HDF5 file"):
    """Every dataset of an HDF5 file, checked first, then read.

    Args:
        data: the file's bytes.
        what: how messages name the file.

    Returns:
        ``{"group/sub/name": array}`` in the file's (alphabetical) order, and
        ``{group path: {attribute: value}}`` for the groups' string attributes.

    Raises:
        HDF5Error: see the module docstring.
    """
    h5py = require("h5py", "keras", "Reading Keras weight files")
    size = len(data)
    try:
        f = h5py.File(io.BytesIO(data), "r")
    except OSError as e:
        raise HDF5Error(f"{what} is not a readable HDF5 file ({e})") from None
    with f:
        datasets, groups, stack, seen = [], {}, [("", f)], 0
        while stack:  # iterative walk, links checked before they are followed
            prefix, group = stack.pop()
            groups[prefix] = {k: (v.decode() if isinstance(v, bytes) else v)
                              for k, v in group.attrs.items() if isinstance(v, (str, bytes))}
            for name in sorted(group.keys(), reverse=True):
                seen += 1
                if seen > MAX_OBJECTS:
                    raise HDF5Error(f"{what} holds more than {MAX_OBJECTS:,} objects")
                path = f"{prefix}/{name}" if prefix else name
                link = group.get(name, getlink=True)
                if not isinstance(link, h5py.HardLink):
                    kind = type(link).__name__
                    raise HDF5Error(f"{what}: '{path}' is an {kind} (pointing to "
                                    f"{getattr(link, 'filename', '')}{getattr(link, 'path', '')}"
                                    "); only plain groups and datasets are read")
                obj = group[name]
                if isinstance(obj, h5py.Group):
                    stack.append((path, obj))
                else:
                    _check_dataset(h5py, obj, path, size, what)
                    datasets.append((path, obj))
        out = {}
        for path, ds in sorted(datasets, key=lambda p: p[0]):
            out[path] = np.asarray(ds[()])
    return out, groups
