"""``gradkit summary``: print ``model.summary()`` of a saved model (file or run directory)."""

from __future__ import annotations

from gradkit.cli import saved_model


def cmd_summary(args) -> int:
    """``gradkit summary``: print ``model.summary()`` of a saved model."""
    model, _ = saved_model.load(args.model, compile=False)
    model.summary()
    return 0
