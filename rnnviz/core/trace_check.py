"""The whole-file check of a trace: every array's dtype and shape against the embedded config.

A trace file is validated from its array *headers* (see :meth:`SafeZip.npy_header`) before any
array is read, so a file declaring petabytes, a 0-D ``hidden``, mismatched time axes, string
data where numbers belong, a config that is a list or whose ``num_layers`` disagrees with the
arrays, or gates that do not belong to the cell, is refused with one clear
:class:`TraceFileError` and nothing is returned half-checked. Used by ``Trace.load``,
``Trace.from_arrays`` and the session loader.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rnnviz.core.cells import get_cell
from rnnviz.core.safeio import FileRefused, SafeZip, parse_json

FORMAT = "rnnviz-trace"
FORMAT_VERSION = 1
ARRAYS = ("inputs", "outputs", "targets", "step_loss", "hidden", "grad_hidden", "grad_hidden_norm",
          "cell", "grad_cell", "grad_cell_norm", "whh")
SCALARS = ("loss", "grad_norm", "grad_norm_clipped", "clipped", "nonfinite")
TEXTS = ("format", "config_json", "meta_json")
REQUIRED = ("inputs", "outputs", "targets", "step_loss", "hidden", "grad_hidden", "grad_hidden_norm",
            *SCALARS, "param_names", "param_grad_norm_values", "config_json", "meta_json")
MAX_JSON_BYTES = 64 * 2**20  # config and meta (with the tokens of a long text) stay far below
NUMERIC = "biuf"


class TraceFileError(ValueError):
    """A trace file that cannot be read: damaged, truncated, foreign, hostile or from a newer rnnviz."""


@dataclass(frozen=True)
class Spec:
    """What an array is (or declares to be) before it is read."""

    shape: tuple[int, ...]
    dtype: np.dtype


def _fail(source: str, message: str):
    raise FileRefused(f"{source} is not a valid rnnviz trace: {message}")


def marker_and_config(get, layout: dict[str, Spec], source: str) -> dict:
    """Check the format marker and version; return the embedded config (a dict), validated.

    ``get(key)`` returns the (small) array ``key``; it is only called for the marker, the
    version and the config JSON, after their headers were checked.
    """
    if "format" not in layout:
        _fail(source, "no format marker (this is not a trace file)")
    for key in ("format", "config_json", "meta_json"):
        spec = layout.get(key)
        if spec is not None and (spec.shape != () or spec.dtype.kind != "U"):
            _fail(source, f"{key} must be one text string, not {spec.dtype} {spec.shape}")
        if spec is not None and spec.dtype.itemsize > MAX_JSON_BYTES:
            _fail(source, f"{key} is too large ({spec.dtype.itemsize // 4} characters)")
    if str(get("format")) != FORMAT:
        raise FileRefused(f"{source} is not an rnnviz trace")
    spec = layout.get("format_version")
    if spec is None or spec.shape != () or spec.dtype.kind not in "iu":
        _fail(source, "no format version")
    version = int(get("format_version"))
    if version > FORMAT_VERSION:
        raise FileRefused(f"{source} was written by a newer rnnviz (trace format {version}); "
                          f"this version reads format {FORMAT_VERSION}: please upgrade rnnviz")
    missing = [k for k in REQUIRED if k not in layout]
    if missing:
        _fail(source, f"missing {', '.join(missing)}")
    config = parse_json(str(get("config_json")), f"{source}: config_json")
    if not isinstance(config, dict):
        _fail(source, f"its config is a {type(config).__name__}, not a table of keys")
    from rnnviz.core.config import ConfigError, ModelConfig

    try:
        ModelConfig(**config)
    except ConfigError as exc:
        _fail(source, f"config: {exc}")
    except TypeError as exc:
        _fail(source, f"config: {exc}")
    return config


def check_layout(layout: dict[str, Spec], config: dict, source: str) -> None:
    """Every array's dtype and shape against the others and the config (nothing is read)."""
    for key, spec in layout.items():
        if key in TEXTS:
            continue
        if key == "param_names":
            if spec.dtype.kind != "U" or len(spec.shape) != 1:
                _fail(source, f"param_names must be a list of names, not {spec.dtype} {spec.shape}")
            continue
        if spec.dtype.kind not in NUMERIC:
            _fail(source, f"{key} holds {spec.dtype} data, not numbers")
    hidden = layout["hidden"].shape
    if len(hidden) != 4:
        _fail(source, f"hidden must have 4 axes (layers*directions, T, B, H), not shape {hidden}")
    if min(hidden) < 1:
        _fail(source, f"hidden has shape {hidden}: every size must be at least 1")
    K, T, B, H = hidden
    layers, directions = int(config.get("num_layers", 1)), 2 if config.get("bidirectional") else 1
    if K != layers * directions:
        _fail(source, f"hidden has {K} layer rows but its config says num_layers = {layers}"
                      + (" x 2 directions" if directions == 2 else ""))
    if "hidden_size" in config and H != int(config["hidden_size"]):
        _fail(source, f"hidden has {H} units but its config says hidden_size = {config['hidden_size']}")

    def expect(key: str, shape: tuple[int, ...] | None = None, ndim: int | None = None, lead=None):
        spec = layout[key]
        if shape is not None and spec.shape != shape:
            _fail(source, f"{key} has shape {spec.shape}, expected {shape}")
        if ndim is not None and len(spec.shape) != ndim:
            _fail(source, f"{key} has shape {spec.shape}, expected {ndim} axes")
        if lead is not None and spec.shape[:len(lead)] != lead:
            _fail(source, f"{key} has shape {spec.shape}; its first axes must be {lead} like hidden's")

    expect("grad_hidden", hidden)
    expect("grad_hidden_norm", (K, T))
    expect("inputs", ndim=3, lead=(T, B))
    expect("outputs", ndim=3, lead=(T, B))
    expect("step_loss", (T,))
    for key in SCALARS:
        expect(key, ())
    targets = layout["targets"].shape
    if not 1 <= len(targets) <= 3 or math.prod(targets) > T * B * max(1, layout["outputs"].shape[2]):
        _fail(source, f"targets have shape {targets}, which does not fit T={T}, B={B}")
    spec = get_cell(str(config.get("cell", "rnn")))  # ModelConfig checked it is registered
    cell, keys = spec.display, set(spec.gate_keys)
    gates = {k[5:] for k in layout if k.startswith("gate_")}
    if gates != keys:
        _fail(source, f"gates {sorted(gates)} do not match the {cell} cell (its gates are {sorted(keys)})")
    for g in gates:
        expect(f"gate_{g}", hidden)
    has_cell = spec.has_cell_state
    for key, shape in (("cell", hidden), ("grad_cell", hidden), ("grad_cell_norm", (K, T))):
        if has_cell and key not in layout:
            _fail(source, f"an {cell} trace needs {key}")
        if not has_cell and key in layout:
            _fail(source, f"a {cell} cell has no {key}")
        if key in layout:
            expect(key, shape)
    if "whh" in layout:
        expect("whh", (K, spec.num_blocks, H, H))
    n = layout["param_names"].shape
    expect("param_grad_norm_values", n)
    if "param_grad_norm_clipped_values" in layout:
        expect("param_grad_norm_clipped_values", n)


def build_trace(cls, arrays: dict, source: str):
    """A ``cls`` (Trace) from checked arrays; a damaged JSON part is a FileRefused."""
    kw = {name: arrays[name] for name in ARRAYS if name in arrays}
    for name in SCALARS:
        value = arrays[name].item()
        kw[name] = bool(value) if name in ("clipped", "nonfinite") else float(value)
    kw["gates"] = {k[5:]: arrays[k] for k in arrays if k.startswith("gate_")}  # saved order = block order
    names = [str(n) for n in arrays["param_names"]]
    kw["param_grad_norms"] = dict(zip(names, map(float, arrays["param_grad_norm_values"]), strict=True))
    if "param_grad_norm_clipped_values" in arrays:
        kw["param_grad_norms_clipped"] = dict(
            zip(names, map(float, arrays["param_grad_norm_clipped_values"]), strict=True))
    kw["config"] = parse_json(str(arrays["config_json"]), f"{source}: config_json")
    meta = parse_json(str(arrays["meta_json"]), f"{source}: meta_json")
    if not isinstance(meta, dict):
        _fail(source, f"its metadata is a {type(meta).__name__}, not a table")
    _check_kept(meta, arrays["hidden"].shape[2], source)
    kw["meta"] = meta
    return cls(**kw)


def _check_kept(meta: dict, B: int, source: str) -> None:
    """``meta["kept_samples"]`` / ``meta["batch_size"]`` (a recording that kept some samples) must
    name B distinct batch indices in order, inside the batch recorded: the views label samples by them."""
    batch = meta.get("batch_size", B)
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < B:
        _fail(source, f"its batch size {batch!r} is not a whole number >= the {B} samples it holds")
    if "kept_samples" not in meta:
        return
    kept = meta["kept_samples"]
    ints = isinstance(kept, list) and all(isinstance(b, int) and not isinstance(b, bool) for b in kept)
    if (not ints or len(kept) != B or any(kept[j] >= kept[j + 1] for j in range(len(kept) - 1))
            or (kept and (kept[0] < 0 or kept[-1] >= batch))):
        _fail(source, f"its kept samples do not name its {B} samples in order within a batch of {batch}")


def read_trace(cls, z: SafeZip, source: str, expect: dict | None = None):
    """Check every header of the npz ``z`` (against ``expect``, a model config, if given), then read it."""
    members = z.npy_names()
    heads = {key: z.npy_header(member) for key, member in members.items()}
    layout = {k: Spec(h.shape, h.dtype) for k, h in heads.items()}
    cache: dict = {}

    def get(key):
        if key not in cache:
            cache[key] = z.read_npy(heads[key])
        return cache[key]

    config = marker_and_config(get, layout, source)
    if expect is not None:
        for key in ("cell", "hidden_size", "num_layers", "bidirectional"):
            if key in expect and key in config and config[key] != expect[key]:
                _fail(source, f"its {key} = {config[key]!r} disagrees with the session's {key} = {expect[key]!r}")
    check_layout(layout, config, source)
    wanted = set(REQUIRED) | {k for k in layout if k.startswith("gate_")} | set(ARRAYS) | {
        "param_grad_norm_clipped_values"}
    arrays = {k: get(k) for k in layout if k in wanted}
    return build_trace(cls, arrays, source)
