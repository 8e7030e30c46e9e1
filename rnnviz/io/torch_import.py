"""PyTorch files: a saved ``state_dict`` (or a checkpoint dict holding one) or a whole module.

Files are opened with ``torch.load(weights_only=True)``, which cannot run code. A whole pickled
module needs full unpickling, which runs whatever code the file names; that is refused with a
message saying so unless the caller passes ``trust=True`` (CLI ``--trust``; the window asks).

The network must be one ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` (any depth, bidirectional,
batch_first, dropout), optionally with an ``nn.Embedding`` in front and an ``nn.Linear`` head.
"""

from __future__ import annotations

import os
import pickle
import re
import sys
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rnnviz.core.cells import get_cell
from rnnviz.io.errors import ModelImportError, UntrustedFileError
from rnnviz.io.imported import NetSpec

_RNN_KEY = re.compile(r"^(?P<prefix>.*?)(?P<kind>weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)"
                      r"_l(?P<layer>\d+)(?P<rev>_reverse)?$")
_MODES = {"RNN_TANH": "rnn", "RNN_RELU": "rnn", "LSTM": "lstm", "GRU": "gru"}
_CHECKPOINT_KEYS = ("state_dict", "model_state_dict", "model")


def load_torch(path: Path, trust: bool = False, activation: str | None = None) -> NetSpec:
    """Read a PyTorch file into a :class:`NetSpec` whose reference is torch's own kernel."""
    obj = _load(path, trust)
    if isinstance(obj, dict) and not _is_state_dict(obj):
        nested = [k for k in _CHECKPOINT_KEYS if isinstance(obj.get(k), (dict, nn.Module))]
        if not nested:
            keys = ", ".join(map(str, list(obj)[:8]))
            raise ModelImportError(f"{path.name} holds a dict ({keys}) with no tensors of a recurrent "
                                   "network and no 'state_dict' / 'model_state_dict' entry")
        obj = obj[nested[0]]
    if isinstance(obj, nn.Module):
        return _from_module(obj, activation)
    if isinstance(obj, dict):
        return _from_state_dict(obj, activation)
    raise ModelImportError(f"{path.name} holds a {type(obj).__name__}, not a state_dict or an nn.Module")


# ------------------------------------------------------------------------------ reading the file
def _load(path: Path, trust: bool):
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as fh:
            head = fh.read(2)
        if not head.startswith(b"\x80"):  # neither torch's zip format nor a legacy pickle
            raise ModelImportError(f"{path.name} is not a PyTorch file (torch.save writes a zip archive)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if not trust:
            raise UntrustedFileError(
                f"{path.name} is a pickled Python object ({_unsafe_global(exc)}), not just weights: "
                "opening it means running code named in the file. Open it only if you trust where it "
                "came from (CLI --trust, trust=True in Python, or confirm in the window), or save "
                "model.state_dict() instead") from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise ModelImportError(f"{path.name} cannot be read by torch.load: {_first_line(exc)}") from None
    # The module's class is usually defined beside the file or in the working folder: look there too.
    extra = [p for p in (str(path.resolve().parent), os.getcwd()) if p not in sys.path]
    sys.path[:0] = extra
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except (AttributeError, ModuleNotFoundError, ImportError) as exc:
        raise ModelImportError(f"{path.name} stores a module whose class cannot be found here ({_first_line(exc)}): "
                               "run from the folder that has its code, or save model.state_dict() instead") from None
    except Exception as exc:  # arbitrary code ran and failed: report it, do not crash
        raise ModelImportError(f"{path.name} could not be unpickled: "
                               f"{type(exc).__name__}: {_first_line(exc)}") from None
    finally:
        for p in extra:
            sys.path.remove(p)


def _unsafe_global(exc: Exception) -> str:
    found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(exc))
    return f"it needs {found.group(1)}" if found else "it needs more than tensors"


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _is_state_dict(obj: dict) -> bool:
    return bool(obj) and all(isinstance(k, str) for k in obj) and any(
        isinstance(v, torch.Tensor) and _RNN_KEY.match(k) for k, v in obj.items())


# ------------------------------------------------------------------------------ a whole module
def _from_module(module: nn.Module, activation: str | None) -> NetSpec:
    module = module.cpu().float().eval()
    named = list(module.named_modules())
    rnns = [(n, m) for n, m in named if isinstance(m, nn.RNNBase)]
    if len(rnns) != 1:
        found = ", ".join(f"{n or 'the module'} ({type(m).__name__})" for n, m in rnns) or "none"
        raise ModelImportError(f"rnnviz shows a network with exactly one nn.RNN / nn.LSTM / nn.GRU; found {found}")
    rnn_name, rnn = rnns[0]
    D = 2 if rnn.bidirectional else 1
    embeds = [m for _, m in named if isinstance(m, nn.Embedding)]
    heads = [(n, m) for n, m in named if isinstance(m, nn.Linear) and m.in_features == D * rnn.hidden_size]
    if len(embeds) > 1 or len(heads) > 1:
        raise ModelImportError(f"cannot tell the input map and the output layer apart: {len(embeds)} nn.Embedding, "
                               f"{len(heads)} nn.Linear taking the {D * rnn.hidden_size} hidden units")
    known = {id(rnn), *(id(m) for m in embeds), *(id(m) for _, m in heads)}
    others = [n for n, m in named if id(m) not in known and any(True for _ in m.parameters(recurse=False))]
    if others:
        raise ModelImportError("rnnviz shows [embedding ->] RNN [-> linear head]; this module also has "
                               f"layers with weights it cannot place: {', '.join(others[:5])}")
    embedding = embeds[0] if embeds else None
    head = heads[0][1] if heads else None
    spec = _spec_from_rnn(rnn, activation, kind=f"nn.Module {type(module).__name__}")
    _add_parts(spec, embedding, head)
    spec.reference = _module_reference(module, rnn, embedding, head, spec.notes)
    spec.reference_name = f"torch.nn.{type(rnn).__name__}" + (f" ({type(module).__name__}.forward)"
                                                              if module is not rnn else "")
    return spec


def _spec_from_rnn(rnn: nn.RNNBase, activation: str | None, kind: str) -> NetSpec:
    cell = _MODES.get(rnn.mode)
    if cell is None:
        raise ModelImportError(f"unsupported recurrent mode {rnn.mode!r}")
    if getattr(rnn, "proj_size", 0):
        raise ModelImportError(
            f"this LSTM has proj_size={rnn.proj_size} (h_t = W_hr (o_t * tanh c_t), {rnn.proj_size} of "
            f"{rnn.hidden_size} units): rnnviz's LSTM has no projection, so it cannot show it faithfully; "
            "refused rather than shown wrong")
    act = "relu" if rnn.mode == "RNN_RELU" else "tanh"
    if activation and cell == "rnn" and activation != act:
        raise ModelImportError(f"the module says nonlinearity={act!r}; --activation {activation} contradicts it")
    spec = NetSpec(framework="PyTorch", kind=kind, cell=cell, input_size=rnn.input_size,
                   hidden_size=rnn.hidden_size, num_layers=rnn.num_layers, bidirectional=rnn.bidirectional,
                   activation=act, weights={k: v.detach().cpu().numpy() for k, v in rnn.state_dict().items()})
    if rnn.batch_first:
        spec.notes.append("batch_first: shown time-major")
    if rnn.dropout:
        spec.notes.append(f"dropout {rnn.dropout:g} between layers: evaluated without it (as in eval mode)")
    if not rnn.bias:
        spec.notes.append("bias=False: zero biases")
    return spec


def _add_parts(spec: NetSpec, embedding: nn.Embedding | None, head: nn.Linear | None) -> None:
    if embedding is not None:
        if embedding.max_norm is not None:
            raise ModelImportError("the nn.Embedding has max_norm, which rescales rows as it looks them up; "
                                   "rnnviz uses a plain lookup table")
        spec.embedding = embedding.weight.detach().cpu().numpy()
        spec.notes.append(f"embedding {tuple(spec.embedding.shape)} used as the input map")
    if head is not None:
        b = head.bias.detach().cpu().numpy() if head.bias is not None else np.zeros(head.out_features, np.float32)
        spec.head = (head.weight.detach().cpu().numpy(), b)


def _module_reference(module, rnn, embedding, head, notes: list):
    """torch itself: the module's own forward when it takes (tokens or x) and returns a tensor,
    else embedding -> rnn -> head chained by hand."""

    def layers(inputs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            x = torch.from_numpy(inputs)
            if embedding is not None:
                x = embedding(x)
            out = rnn(x.transpose(0, 1) if rnn.batch_first else x)[0]
            out = out.transpose(0, 1) if rnn.batch_first else out
            return (head(out) if head is not None else out).numpy()

    def fallback(mine, why):
        notes.append(f"{type(module).__name__}.forward could not be compared ({why}): its layers were")
        return mine

    def run(inputs: np.ndarray) -> np.ndarray:
        mine = layers(inputs)
        if module is rnn:
            return mine
        with torch.no_grad():
            x = torch.from_numpy(inputs)
            x = x.transpose(0, 1) if rnn.batch_first else x
            try:
                y = module(x)
            except Exception as exc:  # its forward wants other arguments: the layers are compared instead
                return fallback(mine, f"raised {type(exc).__name__}")
        if isinstance(y, tuple):
            y = y[0]
        if not isinstance(y, torch.Tensor):
            return fallback(mine, f"returned a {type(y).__name__}")
        y = y.detach().float().numpy()
        if rnn.batch_first and y.ndim == 3:
            y = y.transpose(1, 0, 2)
        return y

    return run


# ------------------------------------------------------------------------------ a state_dict
def _from_state_dict(sd: dict, activation: str | None) -> NetSpec:
    tensors = {k: v for k, v in sd.items() if isinstance(v, torch.Tensor)}
    rnn_keys = {k: _RNN_KEY.match(k) for k in tensors if _RNN_KEY.match(k)}
    prefixes = sorted({m["prefix"] for m in rnn_keys.values()})
    if len(prefixes) != 1:
        names = ", ".join(p or "(top)" for p in prefixes)
        raise ModelImportError("rnnviz shows a network with exactly one recurrent module; this state_dict has "
                               f"recurrent weights under {len(prefixes)} names: {names}")
    prefix = prefixes[0]
    if any(m["kind"] == "weight_hr" for m in rnn_keys.values()):
        raise ModelImportError("this LSTM has a projection (weight_hr_l0: proj_size > 0): rnnviz's LSTM has no "
                               "projection, so it cannot show it faithfully; refused rather than shown wrong")
    w = {m.string[len(prefix):]: tensors[k].detach().float().cpu().numpy() for k, m in rnn_keys.items()}
    if "weight_ih_l0" not in w or "weight_hh_l0" not in w or w["weight_hh_l0"].ndim != 2:
        raise ModelImportError("the state_dict has no 2-D weight_ih_l0 / weight_hh_l0")
    H, I = w["weight_hh_l0"].shape[1], w["weight_ih_l0"].shape[1]
    G, rem = divmod(w["weight_hh_l0"].shape[0], max(H, 1))
    cell = {1: "rnn", 3: "gru", 4: "lstm"}.get(G) if rem == 0 else None
    if cell is None:
        raise ModelImportError(f"weight_hh_l0 has shape {w['weight_hh_l0'].shape}: not H, 3H or 4H rows of a "
                               "SimpleRNN, GRU or LSTM")
    L = 1 + max(int(m["layer"]) for m in rnn_keys.values())
    bidirectional = any(m["rev"] for m in rnn_keys.values())
    act = activation or "tanh"
    spec = NetSpec(framework="PyTorch", kind="state_dict", cell=cell, input_size=I, hidden_size=H, num_layers=L,
                   bidirectional=bidirectional, activation=act, weights=w)
    if cell == "rnn" and not activation:
        spec.notes.append("a state_dict does not say SimpleRNN's nonlinearity: tanh assumed (--activation relu)")
    if "bias_ih_l0" not in w:
        spec.notes.append("no biases: zeros used")
    D = 2 if bidirectional else 1
    _parts_from_state_dict(spec, tensors, prefix, list(sd), D * H)
    spec.reference = _state_dict_reference(spec)
    spec.reference_name = f"torch.nn.{get_cell(cell).torch_class.__name__}"
    return spec


def _parts_from_state_dict(spec: NetSpec, tensors: dict, prefix: str, order: list, hidden_out: int) -> None:
    """Find the embedding (before the RNN, I columns) and the head (after it, D*H columns)."""
    first_rnn = min(i for i, k in enumerate(order) if k.startswith(prefix) and _RNN_KEY.match(k))
    rest = [k for k in order if k in tensors and not _RNN_KEY.match(k)]
    modules: dict[str, dict[str, torch.Tensor]] = {}
    for k in rest:
        mod, _, leaf = k.rpartition(".")
        modules.setdefault(mod, {})[leaf] = tensors[k]
    embedding = head = None
    leftovers = []
    for mod, parts in modules.items():
        W = parts.get("weight")
        is_before = order.index(f"{mod}.weight" if mod else "weight") < first_rnn if W is not None else False
        if W is not None and W.ndim == 2 and set(parts) == {"weight"} and W.shape[1] == spec.input_size \
                and (is_before or "emb" in mod.lower()) and embedding is None:
            embedding = W
        elif W is not None and W.ndim == 2 and set(parts) <= {"weight", "bias"} and W.shape[1] == hidden_out \
                and not is_before and head is None:
            head = (W, parts.get("bias"))
        else:
            leftovers.append(mod or "(top)")
    if leftovers:
        raise ModelImportError("rnnviz shows [embedding ->] RNN [-> linear head]; this state_dict also has weights "
                               f"it cannot place: {', '.join(leftovers[:5])}")
    if embedding is not None:
        spec.embedding = embedding.detach().float().cpu().numpy()
        spec.notes.append(f"embedding {tuple(spec.embedding.shape)} used as the input map")
    if head is not None:
        W, b = head
        W = W.detach().float().cpu().numpy()
        spec.head = (W, np.zeros(W.shape[0], np.float32) if b is None else b.detach().float().cpu().numpy())


def _state_dict_reference(spec: NetSpec):
    """torch's own nn.RNN/LSTM/GRU (and Embedding, Linear) loaded with the state_dict."""
    cls = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[spec.cell]
    kwargs = {"nonlinearity": spec.activation} if spec.cell == "rnn" else {}
    has_bias = "bias_ih_l0" in spec.weights
    rnn = cls(spec.input_size, spec.hidden_size, num_layers=spec.num_layers, bidirectional=spec.bidirectional,
              bias=has_bias, **kwargs)
    try:
        rnn.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in spec.weights.items()})
    except RuntimeError as exc:
        raise ModelImportError(f"the recurrent weights do not fit a {spec.num_layers}-layer "
                               f"{cls.__name__}({spec.input_size}, {spec.hidden_size}): "
                               f"{_first_line(exc)[:300]}") from None
    if spec.cell == "rnn" and spec.activation not in ("tanh", "relu"):
        raise ModelImportError(f"--activation {spec.activation}: torch.nn.RNN has only tanh and relu")

    def run(inputs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            x = torch.from_numpy(inputs)
            if spec.embedding is not None:
                x = torch.from_numpy(spec.embedding)[x]
            out = rnn.eval()(x)[0]
            if spec.head is not None:
                W, b = spec.head
                out = out @ torch.from_numpy(W).T + torch.from_numpy(b)
            return out.numpy()

    return run
