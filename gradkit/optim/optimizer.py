"""PyTorch's optimizer surface on gradkit's one update pipeline.

:class:`TorchOptimizer` is a mixin put in front of a rule from
:mod:`gradkit.optimizers` (``class SGD(TorchOptimizer, optimizers.SGD)``). It adds
what ``torch.optim.Optimizer`` has and the Keras-style base has not:

* ``param_groups``: a list of plain dicts (``{"params": [...], "lr": ..., ...}``)
  with PyTorch's keys; the update reads each group's options at every step, so
  ``group["lr"] = x`` and the learning-rate schedulers work as in PyTorch;
* ``defaults`` and :meth:`add_param_group`;
* :meth:`state_dict` / :meth:`load_state_dict` shaped like PyTorch's:
  ``{"state": {index: {"step": float, "exp_avg": array, ...}}, "param_groups":
  [{..., "params": [indices]}]}`` with PyTorch's state names;
* ``state``: ``{parameter: {name: live array}}``.

The update itself (state, kernels, threads) is the rule's, run by
:class:`gradkit.optimizers.Optimizer`; a subclass only says how PyTorch's group
keys map onto the rule's hyper-parameters (``_engine_options``).
"""

from __future__ import annotations

import types

import numpy as np

from gradkit.backend import to_numpy
from gradkit.tensor import Tensor
from gradkit.utils.validation import check_number

__all__ = ["TorchOptimizer"]

# PyTorch option -> (minimum, maximum, maximum excluded); every group value is checked
_RANGES = {"lr": (0, None, False), "momentum": (0, 1, False), "dampening": (0, 1, False),
           "weight_decay": (0, None, False), "eps": (0, None, False), "alpha": (0, 1, True),
           "lr_decay": (0, None, False), "initial_accumulator_value": (0, None, False)}
_FLAGS = ("nesterov", "maximize", "amsgrad", "centered", "decoupled_weight_decay")
# keys the learning-rate schedulers add to a group (kept, saved and loaded as data)
SCHEDULER_KEYS = ("initial_lr", "max_lr", "min_lr", "base_momentum", "max_momentum")
# PyTorch's implementation switches: accepted at these values only
_IMPLEMENTATION = {"foreach": (None, False), "fused": (None, False),
                   "differentiable": (False,), "capturable": (False,)}


def check_implementation_flags(owner, **flags):
    """Refuse PyTorch's kernel-selection switches (``foreach=True``, ``fused=True``...).

    gradkit has one implementation of each rule (threaded for large parameters);
    a switch asking for another one is not ignored silently.
    """
    for name, value in flags.items():
        if value not in _IMPLEMENTATION[name]:
            raise NotImplementedError(
                f"{owner}: {name}={value!r} is not implemented (gradkit runs one "
                f"implementation of each rule); leave {name} at its default")


class TorchOptimizer:
    """Mixin: PyTorch's ``param_groups``, ``state_dict`` and ``add_param_group``.

    Subclasses call :meth:`_init_groups` from ``__init__`` and define
    ``_engine_options(group) -> dict``: the rule's keyword arguments (Keras names:
    ``learning_rate``, ``beta_1``, ``epsilon``...) for one group's PyTorch options.
    ``_step_in_state`` says whether PyTorch keeps ``"step"`` in each parameter's state.
    """

    _step_in_state = True

    # ------------------------------------------------------------- construction
    def _init_groups(self, engine, params, defaults):
        """Check the groups, then build the rule ``engine`` over all their parameters."""
        owner = type(self).__name__
        self.defaults = self._check_group(dict(defaults), owner + " defaults")
        if isinstance(params, Tensor):
            params = [params]
        if isinstance(params, (str, bytes, dict, set)) or not hasattr(params, "__iter__"):
            raise TypeError(f"{owner}: params must be an ordered iterable (a list) of Tensors "
                            f"or of dicts (parameter groups), received {type(params).__name__}")
        params = list(params)
        if not params:
            raise ValueError(f"{owner}: got an empty parameter list")
        raw = params if isinstance(params[0], dict) else [{"params": params}]
        groups = [self._new_group(g, i) for i, g in enumerate(raw)]
        flat = [p for g in groups for p in g["params"]]
        engine.__init__(self, flat, rule="pytorch", **self._engine_options(self.defaults))
        self._groups = groups
        index = 0
        for gi, g in enumerate(groups):
            for _ in g["params"]:
                self._order[index].group = gi
                index += 1

    def _check_group(self, group, where):
        """Check a group's options (PyTorch keys) in place; unknown keys are refused."""
        owner = type(self).__name__
        known = set(getattr(self, "defaults", group))
        for key, value in group.items():
            if key == "params" or key in SCHEDULER_KEYS:
                continue
            if key not in known:
                raise ValueError(f"{owner}: {where} has an unknown option {key!r}; "
                                 f"{owner} options are {', '.join(sorted(known))}")
            if key in _RANGES:
                lo, hi, hi_open = _RANGES[key]
                group[key] = check_number(owner, f"{key} ({where})", value, lo, hi,
                                          max_open=hi_open)
            elif key in _FLAGS:
                if not isinstance(value, (bool, np.bool_)):
                    raise TypeError(f"{owner}: {key} ({where}) must be True or False, "
                                    f"received {value!r}")
                group[key] = bool(value)
            elif key == "betas":
                try:
                    b1, b2 = value
                except (TypeError, ValueError):
                    raise TypeError(f"{owner}: betas ({where}) must be a pair (beta1, beta2), "
                                    f"received {value!r}") from None
                group[key] = (check_number(owner, f"betas[0] ({where})", b1, 0, 1,
                                           max_open=True),
                              check_number(owner, f"betas[1] ({where})", b2, 0, 1,
                                           max_open=True))
        if group.get("nesterov") and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"{owner}: Nesterov momentum ({where}) needs momentum > 0 and "
                             f"dampening 0, received momentum={group['momentum']}, "
                             f"dampening={group['dampening']}")
        return group

    def _new_group(self, group, gi):
        owner = type(self).__name__
        if not isinstance(group, dict):
            raise TypeError(f"{owner}: parameter group {gi} must be a dict with 'params', "
                            f"received {type(group).__name__}")
        if "params" not in group:
            raise ValueError(f"{owner}: parameter group {gi} has no 'params' entry")
        group = dict(group)
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(f"{owner}: the parameters of group {gi} are a set, whose order "
                            "changes between runs; pass a list")
        # named parameters, ("name", tensor) pairs, as torch accepts them
        group["params"] = [p[1] if isinstance(p, tuple) and len(p) == 2 and
                           isinstance(p[0], str) else p for p in params]
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        return self._check_group(group, f"parameter group {gi}")

    def add_param_group(self, param_group):
        """Add a parameter group (a dict with ``"params"`` and any per-group options).

        Options left out take the constructor's values (``defaults``). A parameter
        already in another group is refused.

        Example::

            opt.add_param_group({"params": head.parameters(), "lr": 1e-2})
        """
        gi = len(self._groups)
        group = self._new_group(param_group, gi)
        params = self._check_params(group["params"])
        taken = {id(p) for p in self._params}
        if any(id(p) in taken for p in params):
            raise ValueError(f"{type(self).__name__}.add_param_group: some parameters "
                             "already belong to another parameter group")
        group["params"] = params
        for p in params:
            self._register(p, gi)
        self._params.extend(params)
        self._groups.append(group)

    # ------------------------------------------------------------- groups
    @property
    def param_groups(self):
        """The parameter groups: a list of dicts, read at every step (PyTorch's)."""
        return self._groups

    @property
    def learning_rate(self):
        """The first group's ``lr`` (Keras's name; callbacks such as
        ``ReduceLROnPlateau`` read and set it); setting it sets every group's ``lr``."""
        return self._groups[0]["lr"]

    @learning_rate.setter
    def learning_rate(self, value):
        value = check_number(type(self).__name__, "learning_rate", value, minimum=0)
        for group in self._groups:
            group["lr"] = value

    lr = learning_rate

    def _hyper(self, group):
        return types.SimpleNamespace(**self._engine_options(self._groups[group]))

    @property
    def state(self):
        """``{parameter: {"step": float, name: live array}}`` for updated parameters."""
        out = {}
        for rec in self._order:
            entry = self._rec_state(rec, copy=False)
            if entry:
                out[rec.param] = entry
        return out

    def _rec_state(self, rec, copy):
        entry = {}
        if rec.slots is None:
            return entry
        if self._step_in_state:
            entry["step"] = float(rec.steps)
        for name, arr in zip(rec.names, rec.slots):
            entry[name] = to_numpy(arr).copy() if copy else arr
        return entry

    # ------------------------------------------------------------- state
    def state_dict(self):
        """The state, shaped like PyTorch's (NumPy copies; parameters as indices).

        Returns:
            ``{"state": {index: {"step": float, <state name>: ndarray}},
            "param_groups": [{<options>, "params": [index, ...]}]}``; indices count
            the parameters group after group. Parameters not updated yet have no
            entry. :func:`gradkit.save` writes it; :meth:`load_state_dict` restores
            it so that training continues identically.
        """
        state = {}
        for rec in self._order:
            entry = self._rec_state(rec, copy=True)
            if entry:
                state[rec.index] = entry
        groups = []
        for g in self._groups:
            packed = {k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()
                      if k != "params"}
            if "betas" in packed:
                packed["betas"] = tuple(packed["betas"])
            packed["params"] = [self._recs[id(p)].index for p in g["params"]]
            groups.append(packed)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore :meth:`state_dict`'s output: the groups' options and every state array.

        The saved groups must match this optimizer's in number and sizes (as PyTorch
        requires). PyTorch's implementation switches (``foreach``...) are accepted
        at their defaults.
        """
        owner = type(self).__name__
        try:
            saved_state = dict(state_dict["state"])
            saved_groups = [dict(g) for g in state_dict["param_groups"]]
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{owner}.load_state_dict: expected a dict from state_dict(), "
                             f"with 'state' and 'param_groups' ({e!r})") from None
        if len(saved_groups) != len(self._groups):
            raise ValueError(f"{owner}.load_state_dict: the state has {len(saved_groups)} "
                             f"parameter groups, this optimizer {len(self._groups)}")
        for gi, (saved, group) in enumerate(zip(saved_groups, self._groups)):
            if len(saved.get("params", ())) != len(group["params"]):
                raise ValueError(f"{owner}.load_state_dict: parameter group {gi} has "
                                 f"{len(saved.get('params', ()))} parameters in the state, "
                                 f"{len(group['params'])} here")
        new_groups = []
        for gi, saved in enumerate(saved_groups):
            options = {k: v for k, v in saved.items() if k != "params"}
            for name in _IMPLEMENTATION:
                if name in options and name not in self.defaults:
                    check_implementation_flags(owner, **{name: options.pop(name)})
            if "betas" in options and isinstance(options["betas"], list):
                options["betas"] = tuple(options["betas"])
            new_groups.append(self._check_group(options, f"saved parameter group {gi}"))
        id_map = {}
        for saved, group in zip(saved_groups, self._groups):
            for i, p in zip(saved["params"], group["params"]):
                id_map[int(i)] = self._recs[id(p)]
        for i in saved_state:
            if int(i) not in id_map:
                raise ValueError(f"{owner}.load_state_dict: state for parameter {i}, which "
                                 "is in no saved parameter group")
        for group, options in zip(self._groups, new_groups):
            for key in [k for k in group if k not in options and k in SCHEDULER_KEYS]:
                del group[key]
            group.update(options)
        self._pending = {}
        loaded = {int(i): dict(s) for i, s in saved_state.items()}
        for i, rec in id_map.items():
            entry = loaded.get(i)
            rec.slots = None
            rec.steps = 0
            if entry is None:
                continue
            step = entry.pop("step", None)
            self._pending[rec.index] = {
                n: a._data if isinstance(a, Tensor) else np.asarray(a) for n, a in entry.items()}
            self._ensure_state(rec)
            rec.steps = int(float(step)) if step is not None else 1

    def get_config(self):
        """The rule's Keras config with this optimizer's (one) group's options.

        ``model.save`` stores it, so ``load_model`` rebuilds the rule as a
        :mod:`gradkit.optimizers` optimizer with ``rule="pytorch"``, which reads
        this optimizer's :meth:`state_dict`. Several groups do not fit one config.
        """
        if len(self._groups) != 1:
            raise NotImplementedError(
                f"{type(self).__name__}.get_config: {len(self._groups)} parameter groups do "
                "not fit one Keras config (model.save); save optimizer.state_dict() with "
                "gradkit.save instead")
        config = super().get_config()
        config.update(self._engine_options(self._groups[0]), rule="pytorch")
        if not config["maximize"]:
            del config["maximize"]           # as Keras-style configs leave it out
        return config

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for gi, group in enumerate(self._groups):
            lines.append(f"Parameter Group {gi}")
            lines.extend(f"    {k}: {group[k]}" for k in sorted(group) if k != "params")
        return "\n".join(lines) + "\n)"
