"""``model.summary()``: layers, output shapes and parameter counts as a table."""

from __future__ import annotations

from gradkit.layers.base import shape_str


def _human_bytes(n):
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024.0
    return f"{n:.2f} GB"  # pragma: no cover


def _rows(model):
    from gradkit.models.functional import Functional
    from gradkit.models.sequential import Sequential

    rows = []
    if isinstance(model, Sequential):
        shapes = getattr(model, "_output_shapes", None) or [None] * len(model.layers)
        for layer, shape in zip(model.layers, shapes):
            rows.append((layer, shape, ""))
    elif isinstance(model, Functional):
        for t in model.inputs:
            rows.append((None, t.shape, t.name))
        for node in model._nodes:
            ins = node.flat_inputs
            src = ", ".join(t.node.layer.name if t.node else (t.name or "input") for t in ins)
            rows.append((node.layer, node.outputs.shape, src))
    else:
        for layer in model.layers:
            rows.append((layer, getattr(layer, "_last_output_shape", None), ""))
    return rows


def _fit_widths(widths, line_length, owner):
    """Column widths scaled so that a table row is ``line_length`` characters long."""
    from gradkit.utils.validation import check_int

    seps = len(widths) + 1
    least = seps + 4 * len(widths)  # room for a one-character cell with its padding
    line_length = check_int(owner, "line_length", line_length, minimum=least)
    room = line_length - seps
    scaled = [max(4, w * room // sum(widths)) for w in widths]
    while sum(scaled) > room:  # the minimums pushed it over: take from the widest
        scaled[scaled.index(max(scaled))] -= 1
    scaled[0] += room - sum(scaled)
    return scaled


def _cut(text, width):
    return text if len(text) <= width else text[:width - 1] + "…"


def summary_text(model, line_length=None):
    """The summary table as a string (see :meth:`Model.summary`)."""
    if not model.built:
        raise ValueError(
            f"{type(model).__name__} '{model.name}' is not built yet, so its weights don't "
            "exist: call model.build(input_shape), give the first layer input_shape=..., "
            "or run it on data first")
    from gradkit.models.functional import Functional

    connected = isinstance(model, Functional) and any(
        len(n.flat_inputs) > 1 for n in model._nodes)
    cols = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if connected else [])
    widths = [32, 24, 13] + ([28] if connected else [])
    table = []
    for layer, shape, src in _rows(model):
        if layer is None:
            name = f"{src or 'input'} (InputLayer)"
            params = "0"
        else:
            name = f"{layer.name} ({type(layer).__name__})"
            params = f"{layer.count_params():,}"
        shp = shape_str(shape) if shape is not None else "?"
        row = [name, shp, params] + ([src] if connected else [])
        table.append(row)
    for row in table:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell) + 2)
    if line_length is not None:
        widths = _fit_widths(widths, line_length, f"{type(model).__name__}.summary")

    def line(left, mid, right, fill="━"):
        return left + mid.join(fill * w for w in widths) + right

    def fmt(cells, sep="┃"):
        out = []
        for i, (c, w) in enumerate(zip(cells, widths)):
            c = _cut(c, w - 2)
            out.append(" " + (c.rjust(w - 2) if i == 2 else c.ljust(w - 2)) + " ")
        return sep + sep.join(out) + sep

    lines = [f'Model: "{model.name}"', line("┏", "┳", "┓"), fmt(cols), line("┡", "╇", "┩")]
    for i, row in enumerate(table):
        lines.append(fmt(row, "│"))
        if i < len(table) - 1:
            lines.append(line("├", "┼", "┤", "─"))
    lines.append(line("└", "┴", "┘", "─"))
    trainable = sum(w.size for w in model.trainable_weights)
    frozen = sum(w.size for w in model.non_trainable_weights)
    nbytes = sum(w._data.nbytes for w in model.weights)
    tb = sum(w._data.nbytes for w in model.trainable_weights)
    lines.append(f" Total params: {trainable + frozen:,} ({_human_bytes(nbytes)})")
    lines.append(f" Trainable params: {trainable:,} ({_human_bytes(tb)})")
    lines.append(f" Non-trainable params: {frozen:,} ({_human_bytes(nbytes - tb)})")
    return "\n".join(lines)
