"""``pad_sequences``: lists of sequences of different lengths -> one array."""

from __future__ import annotations

import numpy as np

from gradkit.utils.validation import check_choice, check_int

__all__ = ["pad_sequences"]


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre",
                  value=0.0):
    """Pad (and cut) sequences to one length, as Keras's function of the same name.

    Args:
        sequences: a list of sequences (lists or arrays; each step a number or an
            array of features of one shape).
        maxlen: the length of the result (default: the longest sequence).
        dtype: the result's dtype (``"int32"``; ``"float32"`` for features,
            ``object``/``str`` for strings).
        padding: ``"pre"`` or ``"post"``: where the padding goes.
        truncating: ``"pre"`` or ``"post"``: which end of a longer sequence is cut.
        value: the padding value (0, which ``Embedding(mask_zero=True)`` masks).

    Returns:
        An array ``(len(sequences), maxlen, *step_shape)``.

    Example::

        pad_sequences([[1, 2, 3], [4]], padding="post")   # [[1, 2, 3], [4, 0, 0]]
    """
    padding = check_choice("pad_sequences", "padding", padding, ("pre", "post"))
    truncating = check_choice("pad_sequences", "truncating", truncating, ("pre", "post"))
    if not hasattr(sequences, "__len__"):
        raise TypeError("pad_sequences: sequences must be a list of sequences, received "
                        f"{type(sequences).__name__}")
    lengths, step_shape = [], None
    for i, seq in enumerate(sequences):
        if not hasattr(seq, "__len__"):
            raise TypeError(f"pad_sequences: sequence {i} is a {type(seq).__name__}, not a "
                            "list or array")
        lengths.append(len(seq))
        if len(seq) and step_shape is None:
            step_shape = np.asarray(seq).shape[1:]
    if maxlen is None:
        maxlen = max(lengths, default=0)
    else:
        maxlen = check_int("pad_sequences", "maxlen", maxlen, minimum=0)
    dt = np.dtype(dtype)
    if isinstance(value, str) and dt.kind not in "OUS":
        raise ValueError(f"pad_sequences: a string padding value needs dtype object or str, "
                         f"received dtype {dt}")
    out = np.full((len(lengths), maxlen) + (step_shape or ()), value, dtype=dt)
    for i, seq in enumerate(sequences):
        if not len(seq) or not maxlen:
            continue
        arr = np.asarray(seq, dtype=dt)
        if arr.shape[1:] != (step_shape or ()):
            raise ValueError(f"pad_sequences: the steps of sequence {i} have shape "
                             f"{arr.shape[1:]}, the first sequence's {step_shape}")
        cut = arr[-maxlen:] if truncating == "pre" else arr[:maxlen]
        if padding == "post":
            out[i, :len(cut)] = cut
        else:
            out[i, maxlen - len(cut):] = cut
    return out
