"""Keras 3 ``.keras`` files, read without TensorFlow or Keras: a zip of config.json + model.weights.h5.

Keras keeps ``kernel`` (I, G*H) and ``recurrent_kernel`` (H, G*H), transposed from PyTorch, gates
in the order LSTM i, f, c, o (PyTorch's i, f, g, o: the same) and GRU z, r, h (PyTorch: r, z, n),
and one bias (a second, recurrent one for a GRU with ``reset_after=True``, which is exactly
PyTorch's GRU). ``reset_after=False`` applies the reset gate before the recurrent matrix, with one
bias: rnnviz's ``gru_reset_before`` cell (its bias goes on the input side). The reference that
checks the import is Keras's equations written out here in numpy on Keras's own layout, so a
mistake in the reordering cannot hide in both.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from rnnviz.core.safeio import FileRefused, SafeZip
from rnnviz.io.errors import ModelImportError, missing_package
from rnnviz.io.imported import NetSpec

MAX_UNPACKED = 2 << 30
_RNN = {"SimpleRNN": "rnn", "LSTM": "lstm", "GRU": "gru"}
_GRUS = ("gru", "gru_reset_before")  # rnnviz's cells for Keras GRU reset_after=True / False
_SKIPPED = {"InputLayer", "Dropout", "SpatialDropout1D", "GaussianNoise", "GaussianDropout", "AlphaDropout"}


def load_keras(path: Path) -> NetSpec:
    """Read a ``.keras`` file into a :class:`NetSpec` checked against Keras's equations."""
    try:
        import h5py
    except ImportError:
        raise missing_package("h5py", "opening a Keras .keras file") from None
    config, weights_bytes = _unzip(path)
    layers = _layer_list(config, path)
    with h5py.File(io.BytesIO(weights_bytes), "r") as h5:
        groups = _groups_by_name(h5)
        return _spec(layers, groups, path)


def _unzip(path: Path):
    try:
        with SafeZip(path, label=path.name, what="a Keras .keras file"):
            pass  # repeated or escaping members, zip bombs: refused before anything is read
    except FileRefused as exc:
        raise ModelImportError(str(exc)) from None
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            if "config.json" not in names or "model.weights.h5" not in names:
                raise ModelImportError(f"{path.name} is a zip without config.json and model.weights.h5: "
                                       "not a Keras 3 .keras file")
            if sum(i.file_size for i in z.infolist()) > MAX_UNPACKED:
                raise ModelImportError(f"{path.name} unpacks to more than {MAX_UNPACKED >> 30} GiB")
            config = json.loads(z.read("config.json").decode("utf-8"))
            return config, z.read("model.weights.h5")
    except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError, OSError, EOFError) as exc:
        raise ModelImportError(f"{path.name} is not a readable .keras file: {exc}") from None


def _layer_list(config: dict, path: Path) -> list[dict]:
    cls = config.get("class_name")
    layers = (config.get("config") or {}).get("layers")
    if cls not in ("Sequential", "Functional", "Model") or not isinstance(layers, list):
        raise ModelImportError(f"{path.name} holds a Keras {cls}; rnnviz reads Sequential and Functional models")
    if cls != "Sequential":  # a Functional model must be a plain chain
        prev = None
        for layer in layers:
            inbound = json.dumps(layer.get("inbound_nodes", []))
            if prev is not None and f'"{prev}"' not in inbound:
                raise ModelImportError(f"layer {layer.get('name')!r} does not take the layer before it: rnnviz "
                                       "reads a chain [Embedding ->] RNN layers [-> Dense]")
            prev = layer.get("config", {}).get("name", layer.get("name"))
    return layers


def _groups_by_name(h5) -> dict:
    """Layer name (from config.json) -> its HDF5 group; Keras stores names in vars' attributes."""
    out = {}
    if "layers" in h5:
        for key, group in h5["layers"].items():
            name = group["vars"].attrs.get("name") if "vars" in group else None
            out[name.decode() if isinstance(name, bytes) else (name or key)] = group
            out.setdefault(key, group)
    return out


def _vars(group, sub: str = "") -> list[np.ndarray]:
    g = group[sub] if sub else group
    v = g["vars"]
    return [np.asarray(v[str(i)], dtype=np.float32) for i in range(len(v))]


def _spec(layers: list[dict], groups: dict, path: Path) -> NetSpec:
    notes, embedding, rnns, dense = [], None, [], None
    for layer in layers:
        cls, cfg = layer.get("class_name"), layer.get("config", {})
        name = cfg.get("name")
        if cls in _SKIPPED:
            if "Dropout" in cls or "Noise" in cls:
                notes.append(f"{cls} {name}: evaluated without it (as at inference)")
            continue
        group = groups.get(name)
        if cls == "Embedding":
            if rnns or embedding is not None:
                raise ModelImportError(f"Embedding {name!r} is not in front of the recurrent layers")
            if cfg.get("mask_zero"):
                raise ModelImportError(f"Embedding {name!r} has mask_zero=True (padding steps skipped); "
                                       "rnnviz runs every step")
            embedding = _vars(_need(group, name))[0]
            notes.append(f"embedding {embedding.shape} used as the input map")
        elif cls in _RNN or cls == "Bidirectional":
            if dense is not None:
                raise ModelImportError(f"{cls} {name!r} comes after a Dense layer: rnnviz shows RNN layers, "
                                       "then one head")
            rnns.append(_rnn_layer(cls, cfg, _need(group, name), notes))
        elif cls == "Dense":
            if not rnns or dense is not None:
                raise ModelImportError(f"Dense {name!r}: rnnviz shows one Dense head after the recurrent layers")
            if cfg.get("activation", "linear") != "linear":
                raise ModelImportError(f"Dense {name!r} has activation {cfg.get('activation')!r}; rnnviz shows a "
                                       "linear head (the loss applies softmax/sigmoid)")
            v = _vars(_need(group, name))
            dense = (v[0], v[1] if len(v) > 1 else np.zeros(v[0].shape[1], np.float32))
        else:
            raise ModelImportError(f"layer {name!r} ({cls}) is not one rnnviz can show: it reads "
                                   "[Embedding ->] SimpleRNN/LSTM/GRU (or Bidirectional) layers [-> Dense]")
    if not rnns:
        raise ModelImportError(f"{path.name} has no SimpleRNN / LSTM / GRU layer")
    return _assemble(rnns, embedding, dense, notes)


def _need(group, name):
    if group is None:
        raise ModelImportError(f"model.weights.h5 has no weights for layer {name!r}")
    return group


def _rnn_layer(cls: str, cfg: dict, group, notes: list) -> dict:
    if cls == "Bidirectional":
        inner = cfg.get("layer", {})
        if cfg.get("merge_mode", "concat") != "concat":
            raise ModelImportError(f"Bidirectional {cfg.get('name')!r} merges with {cfg.get('merge_mode')!r}; "
                                   "rnnviz (like PyTorch) concatenates the two directions")
        layer = _one_direction(inner.get("class_name"), inner.get("config", {}), notes)
        fwd, bwd = _vars(group["forward_layer"], "cell"), _vars(group["backward_layer"], "cell")
        return {**layer, "vars": [fwd, bwd], "name": cfg.get("name")}
    layer = _one_direction(cls, cfg, notes)
    if cfg.get("go_backwards"):
        raise ModelImportError(f"{cls} {cfg.get('name')!r} reads the sequence backwards only; rnnviz shows "
                               "forward or bidirectional layers")
    return {**layer, "vars": [_vars(group, "cell")]}


def _one_direction(cls: str, cfg: dict, notes: list) -> dict:
    name = cfg.get("name")
    if cls not in _RNN:
        raise ModelImportError(f"layer {name!r} ({cls}) is not SimpleRNN, LSTM or GRU")
    cell = _RNN[cls]
    act = cfg.get("activation", "tanh")
    if cell == "rnn":
        if act not in ("tanh", "relu", "linear"):
            raise ModelImportError(f"SimpleRNN {name!r} uses activation {act!r}; rnnviz has tanh, relu, linear")
    else:
        if act != "tanh" or cfg.get("recurrent_activation", "sigmoid") != "sigmoid":
            raise ModelImportError(f"{cls} {name!r} uses activation {act!r} / recurrent_activation "
                                   f"{cfg.get('recurrent_activation')!r}; rnnviz's {cls} uses tanh and sigmoid")
    if cell == "gru" and not cfg.get("reset_after", True):
        cell = "gru_reset_before"  # candidate tanh(W x + U (r * h) + b): the reset gate before U
        note = "GRU reset_after=False: the reset gate scales h before the recurrent matrix"
        if note not in notes:
            notes.append(note)
    if cfg.get("dropout") or cfg.get("recurrent_dropout"):
        notes.append(f"{cls} {name!r} dropout {cfg.get('dropout', 0):g} / recurrent_dropout "
                     f"{cfg.get('recurrent_dropout', 0):g}: evaluated without it")
    return {"cell": cell, "cls": cls, "activation": act, "units": int(cfg.get("units", 0)),
            "return_sequences": bool(cfg.get("return_sequences", False)), "use_bias": cfg.get("use_bias", True),
            "reset_after": bool(cfg.get("reset_after", True)), "name": name}


def _assemble(rnns: list[dict], embedding, dense, notes: list) -> NetSpec:
    first = rnns[0]
    D = len(first["vars"])
    if any((r["cell"], r["units"], len(r["vars"]), r["activation"]) !=
           (first["cell"], first["units"], D, first["activation"]) for r in rnns):
        raise ModelImportError("the recurrent layers differ in cell, units, activation or direction: rnnviz shows "
                               "one stack of equal layers")
    for r in rnns[:-1]:
        if not r["return_sequences"]:
            raise ModelImportError(f"layer {r['name']!r} returns only its last step to the next layer "
                                   "(return_sequences=False)")
    last_only = not rnns[-1]["return_sequences"]
    if last_only and D == 2:
        raise ModelImportError("the last Bidirectional layer returns one vector (return_sequences=False) that "
                               "holds the backward direction's state at the first step; rnnviz's many-to-one "
                               "reads every direction at the last step. Save with return_sequences=True")
    if last_only:
        notes.append("many-to-one (return_sequences=False): the output is the last step's")
    cell, H = first["cell"], first["units"]
    I = int(rnns[0]["vars"][0][0].shape[0])
    weights = {}
    for layer, r in enumerate(rnns):
        for d, v in enumerate(r["vars"]):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            kernel, recurrent = v[0], v[1]
            bias = v[2] if len(v) > 2 else np.zeros((2, kernel.shape[1]) if cell == "gru" else kernel.shape[1],
                                                    np.float32)
            weights["weight_ih" + sfx] = _to_torch(kernel.T, cell, H)
            weights["weight_hh" + sfx] = _to_torch(recurrent.T, cell, H)
            if cell == "gru_reset_before":  # one bias, added with W x (b_hh = 0 is the same sum)
                weights["bias_ih" + sfx] = _to_torch(bias, cell, H)
                weights["bias_hh" + sfx] = np.zeros_like(weights["bias_ih" + sfx])
            elif cell == "gru":
                weights["bias_ih" + sfx] = _to_torch(bias[0], cell, H)
                weights["bias_hh" + sfx] = _to_torch(bias[1], cell, H)
            else:
                weights["bias_ih" + sfx] = np.ascontiguousarray(bias)
                weights["bias_hh" + sfx] = np.zeros_like(bias)
    head = None if dense is None else (np.ascontiguousarray(dense[0].T), dense[1])
    kind = f"model ({len(rnns)} {first['cls']}{' Bidirectional' if D == 2 else ''} layer{'s' * (len(rnns) > 1)})"
    spec = NetSpec(framework="Keras", kind=kind, cell=cell, input_size=I, hidden_size=H, num_layers=len(rnns),
                   bidirectional=D == 2, activation=first["activation"], weights=weights, head=head,
                   embedding=embedding, notes=notes)
    spec.reference = lambda inputs: _keras_forward(inputs, rnns, embedding, dense, last_only)
    spec.reference_name = "Keras's equations"
    return spec


def _to_torch(rows: np.ndarray, cell: str, H: int) -> np.ndarray:
    """Keras gate blocks -> PyTorch's: GRU z, r, h -> r, z, n; LSTM i, f, c, o is already i, f, g, o."""
    if cell in _GRUS:
        rows = np.concatenate([rows[H:2 * H], rows[:H], rows[2 * H:]], axis=0)
    return np.ascontiguousarray(rows, dtype=np.float32)


# ------------------------------------------------------------------------ Keras's equations, in numpy
def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


_ACT = {"tanh": np.tanh, "relu": lambda a: np.maximum(a, 0.0), "linear": lambda a: a}


def _keras_step(cell, act, x, state, kernel, rk, bias):
    H = rk.shape[0]
    if cell == "rnn":
        return _ACT[act](x @ kernel + state @ rk + bias), None
    if cell == "lstm":
        h, c = state
        z = x @ kernel + h @ rk + bias
        i, f, cc, o = (z[:, k * H:(k + 1) * H] for k in range(4))
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(cc)
        return _sigmoid(o) * np.tanh(c), c
    if cell == "gru_reset_before":  # reset_after=False: one bias; r scales h before the recurrent kernel
        xz, xr, xh = np.split(x @ kernel + bias, 3, axis=1)
        z = _sigmoid(xz + state @ rk[:, :H])
        r = _sigmoid(xr + state @ rk[:, H:2 * H])
        return z * state + (1 - z) * np.tanh(xh + (r * state) @ rk[:, 2 * H:]), None
    # GRU, reset_after=True: bias[0] on the input side, bias[1] on the recurrent side
    xz, xr, xh = np.split(x @ kernel + bias[0], 3, axis=1)
    hz, hr, hh = np.split(state @ rk + bias[1], 3, axis=1)
    z, r = _sigmoid(xz + hz), _sigmoid(xr + hr)
    return z * state + (1 - z) * np.tanh(xh + r * hh), None


def _keras_direction(cell, act, xs, v, reverse):
    kernel, rk = v[0].astype(np.float64), v[1].astype(np.float64)
    bias = v[2].astype(np.float64) if len(v) > 2 else np.zeros((2, kernel.shape[1]) if cell == "gru"
                                                               else kernel.shape[1])
    B, T, _ = xs.shape
    H = rk.shape[0]
    h, c = np.zeros((B, H)), np.zeros((B, H))
    out = np.zeros((B, T, H))
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        h, c_new = _keras_step(cell, act, xs[:, t], (h, c) if cell == "lstm" else h, kernel, rk, bias)
        c = c_new if c_new is not None else c
        out[:, t] = h
    return out


def _keras_forward(inputs, rnns, embedding, dense, last_only):
    """Keras's computation on (batch, time, features), from Keras's own weight layout."""
    xs = np.swapaxes(inputs, 0, 1)  # rnnviz's (T, B, ...) -> Keras's (B, T, ...)
    xs = embedding.astype(np.float64)[xs] if embedding is not None else xs.astype(np.float64)
    for r in rnns:
        outs = [_keras_direction(r["cell"], r["activation"], xs, v, reverse=bool(d)) for d, v in enumerate(r["vars"])]
        xs = np.concatenate(outs, axis=2)
    if dense is not None:
        xs = xs @ dense[0].astype(np.float64) + dense[1]
    return xs[:, -1] if last_only else np.swapaxes(xs, 0, 1)
