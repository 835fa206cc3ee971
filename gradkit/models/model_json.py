"""A model's architecture as JSON: ``model.to_json()`` and ``model_from_json``.

The JSON holds the architecture only (the registry config the model file's
``config.json`` also holds), no weights; ``model_from_json`` rebuilds it with
fresh weights. As with model files, only registered classes (or those in
``custom_objects``) are built: nothing named in the JSON is imported.

Example::

    text = model.to_json()
    twin = model_from_json(text)           # same architecture, new weights
"""

from __future__ import annotations

import json


def model_to_json(model, **kwargs):
    """The architecture of ``model`` as a JSON string (``kwargs`` go to ``json.dumps``)."""
    from gradkit import __version__
    from gradkit.layers import serialize
    from gradkit.models.saving import _json_default

    spec = dict(serialize(model), gradkit_version=__version__)
    return json.dumps(spec, default=_json_default, **kwargs)


def model_from_json(json_string, custom_objects=None):
    """Rebuild a model (fresh weights) from :func:`model_to_json`'s text.

    Raises:
        ValueError: the text is not JSON or not a model config.
    """
    from gradkit.layers import deserialize
    from gradkit.models.saving import _deserialize_model
    from gradkit.utils.registry import custom_object_scope

    try:
        spec = json.loads(json_string)
    except (TypeError, json.JSONDecodeError) as e:
        raise ValueError(f"model_from_json: not JSON ({e})") from None
    if not isinstance(spec, dict) or "class_name" not in spec:
        raise ValueError("model_from_json: expected the JSON of model.to_json(), a dict with "
                         f"'class_name' and 'config'; received {str(spec)[:100]!r}")
    spec.pop("gradkit_version", None)
    with custom_object_scope(custom_objects):
        return _deserialize_model(spec, custom_objects, deserialize)
