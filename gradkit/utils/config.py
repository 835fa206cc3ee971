"""``Configurable``: objects that are their constructor arguments.

Initializers, regularizers, losses and learning-rate schedules all save as
``{"class_name": ..., "config": get_config()}`` and come back with
``cls.from_config(config)``; this base gives them that round trip and a
``repr`` that shows the configuration, once.
"""

from __future__ import annotations


class Configurable:
    """Base of small objects rebuilt from ``get_config()`` (``cls(**config)``)."""

    def get_config(self):
        """The constructor arguments, as a JSON-able dict."""
        return {}

    @classmethod
    def from_config(cls, config):
        """Rebuild the object from :meth:`get_config`'s dict."""
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"
