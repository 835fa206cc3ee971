"""Shared fixtures of the gradkit.nn tests: the layer tests' seeding and PyTorch fixtures
(one definition, in tests/layers/conftest.py)."""

from tests.layers.conftest import _seed, torch  # noqa: F401 - fixtures, found by name
