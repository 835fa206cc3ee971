"""``SummaryWriter``: TensorBoard event files (PyTorch's ``torch.utils.tensorboard`` API).

The records are TensorBoard's own protocol buffers, written by TensorBoard's own
``EventFileWriter`` (the optional extra ``gradkit[tensorboard]``, i.e. the
``tensorboard`` package, which also brings the server and the reader that the
tests use): gradkit only turns its values into ``Summary`` protos. Watch a run
with ``tensorboard --logdir runs/``.

Example::

    from gradkit.utils.tensorboard import SummaryWriter
    with SummaryWriter("runs/demo") as w:
        for step in range(100):
            w.add_scalar("loss", 1.0 / (step + 1), step)
        w.add_histogram("weights", model.layers[0].kernel.numpy(), 99)
"""

from __future__ import annotations

import os
import platform
import time
from datetime import datetime

import numpy as np

from gradkit.utils.png import encode_png
from gradkit.utils.validation import check_choice, check_int, check_number

INSTALL_HINT = "install gradkit[tensorboard] (pip install 'gradkit[tensorboard]')"


def _tb():
    """TensorBoard's writer and protos, or an ImportError saying what to install."""
    try:
        from tensorboard.compat.proto import event_pb2, graph_pb2, summary_pb2
        from tensorboard.plugins.text import metadata as text_metadata
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
    except ImportError as e:
        raise ImportError(f"TensorBoard logging needs the tensorboard package: "
                          f"{INSTALL_HINT}") from e
    return EventFileWriter, event_pb2, summary_pb2, graph_pb2, text_metadata


def available() -> bool:
    """Whether the optional ``tensorboard`` package is installed (``gradkit[tensorboard]``)."""
    try:
        _tb()
    except ImportError:
        return False
    return True


def default_log_dir(comment: str = "") -> str:
    """``runs/<date>_<time>_<host><comment>``, PyTorch's default run directory."""
    stamp = datetime.now().strftime("%b%d_%H-%M-%S")
    return os.path.join("runs", f"{stamp}_{platform.node()}{comment}")


def _step(owner, step):
    return 0 if step is None else check_int(owner, "global_step", step, minimum=0)


def _array(value, owner, name):
    data = getattr(value, "_data", value)  # a gradkit Tensor or an array-like
    arr = np.asarray(data)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{owner}: {name} must be numbers, received dtype {arr.dtype}")
    return arr


def histogram_proto(values, bins, summary_pb2):
    """A ``HistogramProto`` of ``values`` (finite values only) with ``bins`` buckets."""
    arr = _array(values, "add_histogram", "values").astype(np.float64).ravel()
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        raise ValueError("add_histogram: values has no finite number to histogram")
    counts, edges = np.histogram(arr, bins=bins)
    return summary_pb2.HistogramProto(
        min=float(arr.min()), max=float(arr.max()), num=float(arr.size),
        sum=float(arr.sum()), sum_squares=float(np.dot(arr, arr)),
        bucket_limit=[float(e) for e in edges[1:]], bucket=[float(c) for c in counts])


def image_to_uint8(img, dataformats):
    """``(H, W, C)`` uint8 pixels from an image in ``dataformats`` layout.

    Floats are taken to be in [0, 1] (as PyTorch does) and scaled by 255;
    integers must already be in 0..255.
    """
    arr = _array(img, "add_image", "img_tensor")
    layout = check_choice("add_image", "dataformats", dataformats, ("CHW", "HWC", "HW"))
    if arr.ndim != len(layout):
        raise ValueError(f"add_image: dataformats='{layout}' needs a {len(layout)}-D image, "
                         f"received shape {arr.shape}")
    if layout == "HW":
        arr = arr[..., None]
    elif layout == "CHW":
        arr = np.moveaxis(arr, 0, -1)
    if arr.shape[-1] not in (1, 3, 4):
        raise ValueError(f"add_image: an image needs 1, 3 or 4 channels, received "
                         f"{arr.shape[-1]} (shape {arr.shape} as HWC); check dataformats")
    if arr.dtype.kind == "f":
        arr = np.clip(np.nan_to_num(arr) * 255.0 + 0.5, 0, 255)
    elif arr.size and (arr.min() < 0 or arr.max() > 255):
        raise ValueError("add_image: integer pixels must be in 0..255; pass floats in [0, 1] "
                         "or uint8")
    return arr.astype(np.uint8)


class SummaryWriter:
    """Write scalars, histograms, images, text and a model graph for TensorBoard.

    Args:
        log_dir: the run directory (default ``runs/<date>_<time>_<host><comment>``).
        comment: suffix of the default ``log_dir``; an error together with ``log_dir``
            (it would have no effect).
        max_queue: events held in memory before they are written.
        flush_secs: seconds between automatic flushes.
        filename_suffix: appended to the event file's name.

    Every ``add_*`` takes ``global_step`` (int, default 0) and ``walltime`` (seconds
    since the epoch, default now). Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, log_dir=None, comment="", max_queue=10, flush_secs=120,
                 filename_suffix=""):
        if log_dir is not None and comment:
            raise ValueError("SummaryWriter: comment only names the default log_dir; it has no "
                             "effect with log_dir given: put it into log_dir instead")
        self._writer_cls, self._event, self._summary, self._graph, self._text = _tb()
        self.log_dir = os.fspath(log_dir) if log_dir is not None else default_log_dir(comment)
        self.max_queue = check_int("SummaryWriter", "max_queue", max_queue, minimum=1)
        self.flush_secs = check_number("SummaryWriter", "flush_secs", flush_secs, minimum=0,
                                       min_open=True)
        self.filename_suffix = str(filename_suffix)
        self._file = self._writer_cls(self.log_dir, self.max_queue, self.flush_secs,
                                      self.filename_suffix)
        self._children = {}  # add_scalars' per-series writers
        self._closed = False

    def _emit(self, value, step, walltime, owner):
        if self._closed:
            raise RuntimeError(f"{owner}: the SummaryWriter for {self.log_dir} is closed")
        event = self._event.Event(
            wall_time=time.time() if walltime is None else float(walltime),
            step=_step(owner, step), summary=self._summary.Summary(value=[value]))
        self._file.add_event(event)

    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None):
        """One point of the curve ``tag``.

        Args:
            tag: the curve's name (``/`` groups curves: ``"loss/train"``).
            scalar_value: a real number (a 1-element Tensor or array is fine).
        """
        value = _array(scalar_value, "add_scalar", "scalar_value")
        if value.size != 1:
            raise ValueError(f"add_scalar: scalar_value must be a single number, received "
                             f"shape {value.shape}")
        self._emit(self._summary.Summary.Value(tag=str(tag), simple_value=float(value.ravel()[0])),
                   global_step, walltime, "add_scalar")

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """Several curves drawn in one chart, ``main_tag`` (PyTorch's layout: each series
        is a run ``<log_dir>/<main_tag>_<key>`` holding the tag ``main_tag``).

        Args:
            main_tag: the chart's name.
            tag_scalar_dict: ``{series name: value}``.
        """
        if not isinstance(tag_scalar_dict, dict) or not tag_scalar_dict:
            raise TypeError("add_scalars: tag_scalar_dict must be a non-empty dict "
                            f"{{series: value}}, received {tag_scalar_dict!r}")
        for key, value in tag_scalar_dict.items():
            run = f"{main_tag}_{key}".replace("/", "_")
            child = self._children.get(run)
            if child is None:
                child = self._children[run] = SummaryWriter(
                    os.path.join(self.log_dir, run), max_queue=self.max_queue,
                    flush_secs=self.flush_secs, filename_suffix=self.filename_suffix)
            child.add_scalar(main_tag, value, global_step, walltime)

    def add_histogram(self, tag, values, global_step=None, bins=30, walltime=None):
        """The distribution of ``values`` (e.g. a layer's weights) at ``global_step``.

        Args:
            values: an array or Tensor of any shape (NaN/inf are left out).
            bins: number of equal-width buckets, or a NumPy rule name (``"auto"``, ``"fd"``).
        """
        if not isinstance(bins, str):
            bins = check_int("add_histogram", "bins", bins, minimum=1)
        histo = histogram_proto(values, bins, self._summary)
        self._emit(self._summary.Summary.Value(tag=str(tag), histo=histo), global_step, walltime,
                   "add_histogram")

    def add_image(self, tag, img_tensor, global_step=None, walltime=None, dataformats="CHW"):
        """One image (stored as PNG).

        Args:
            img_tensor: pixels laid out as ``dataformats`` (``"CHW"``, ``"HWC"`` or ``"HW"``),
                floats in [0, 1] or integers in 0..255; 1, 3 or 4 channels.
        """
        pixels = image_to_uint8(img_tensor, dataformats)
        h, w, c = pixels.shape
        image = self._summary.Summary.Image(height=h, width=w, colorspace=c,
                                            encoded_image_string=encode_png(pixels))
        self._emit(self._summary.Summary.Value(tag=str(tag), image=image), global_step,
                   walltime, "add_image")

    def add_text(self, tag, text_string, global_step=None, walltime=None):
        """A piece of text (Markdown) shown in TensorBoard's Text tab."""
        from tensorboard.compat.proto import tensor_pb2, tensor_shape_pb2, types_pb2

        tensor = tensor_pb2.TensorProto(
            dtype=types_pb2.DT_STRING, string_val=[str(text_string).encode("utf-8")],
            tensor_shape=tensor_shape_pb2.TensorShapeProto(
                dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=1)]))
        meta = self._text.create_summary_metadata(display_name=None, description=None)
        self._emit(self._summary.Summary.Value(tag=str(tag), metadata=meta, tensor=tensor),
                   global_step, walltime, "add_text")

    def add_graph(self, model, expand_nested=True):
        """The model's layers and connections, for TensorBoard's Graphs tab.

        Args:
            model: a ``Sequential`` or functional model (as for ``plot_model``).
            expand_nested: show the layers inside nested models (grouped by name scope).
        """
        from gradkit.utils.plot_model import layer_graph

        graph = layer_graph(model, expand_nested)
        inputs = {}
        for tail, head in graph.edges:
            inputs.setdefault(head, [])
            if tail not in inputs[head]:
                inputs[head].append(tail)
        g = self._graph.GraphDef()
        for node in graph.nodes.values():
            nd = g.node.add(name=node.id, op=node.kind, input=inputs.get(node.id, []))
            nd.attr["dtype"].s = node.dtype.encode()
            if node.output_shapes:
                nd.attr["output_shape"].s = " | ".join(node.output_shapes).encode()
        if self._closed:
            raise RuntimeError(f"add_graph: the SummaryWriter for {self.log_dir} is closed")
        self._file.add_event(self._event.Event(wall_time=time.time(),
                                               graph_def=g.SerializeToString()))

    def flush(self):
        """Write pending events to disk."""
        for child in self._children.values():
            child.flush()
        self._file.flush()

    def close(self):
        """Flush and close the event files; later ``add_*`` calls raise."""
        if self._closed:
            return
        for child in self._children.values():
            child.close()
        self._file.close()
        self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self):
        return f"<SummaryWriter log_dir={self.log_dir!r}{' closed' if self._closed else ''}>"


__all__ = ["INSTALL_HINT", "SummaryWriter", "available", "default_log_dir", "histogram_proto",
           "image_to_uint8"]
