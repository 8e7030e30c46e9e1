"""``load_model``: open a model file of any supported framework, by its suffix or its content."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from rnnviz.io.errors import ModelImportError
from rnnviz.io.imported import ImportedModel, build

MODEL_SUFFIXES = {".pt": "pytorch", ".pth": "pytorch", ".bin": "pytorch", ".ckpt": "pytorch",
                  ".onnx": "onnx", ".keras": "keras"}
MAX_MODEL_BYTES = 4 << 30  # a recurrent network worth looking at is far smaller


def load_model(path: str | os.PathLike, *, trust: bool = False, activation: str | None = None,
               seed: int = 0) -> ImportedModel:
    """Open a saved recurrent network as an rnnviz model, checked against its own framework.

    PyTorch (``.pt``/``.pth``: a state_dict, a checkpoint dict or a whole module — the latter
    only with ``trust=True``, since unpickling it runs code), ONNX (``.onnx``) and Keras 3
    (``.keras``). ``activation`` names a SimpleRNN's nonlinearity where the file does not (a
    PyTorch state_dict). Raises :class:`ModelImportError` with a one-line reason, including when
    rnnviz's equations and the source disagree by more than 1e-4 on a check input.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelImportError(f"{path}: no such file" if not path.exists() else f"{path} is not a file")
    size = path.stat().st_size
    if size == 0:
        raise ModelImportError(f"{path.name} is empty")
    if size > MAX_MODEL_BYTES:
        raise ModelImportError(f"{path.name} is {size / 2**30:.1f} GiB: too large for a network rnnviz can show")
    kind = _sniff(path)
    if kind == "pytorch":
        from rnnviz.io.torch_import import load_torch

        spec = load_torch(path, trust=trust, activation=activation)
    elif kind == "onnx":
        from rnnviz.io.onnx_import import load_onnx

        spec = load_onnx(path)
    elif kind == "keras":
        from rnnviz.io.keras_import import load_keras

        spec = load_keras(path)
    elif kind == "h5":
        raise ModelImportError(f"{path.name} is a legacy Keras HDF5 model: open it in Keras and save it as "
                               "'.keras' (model.save('model.keras')), which rnnviz reads without TensorFlow")
    else:
        raise ModelImportError(f"{path.name}: not a model file rnnviz knows (PyTorch .pt/.pth, ONNX .onnx, "
                               "Keras 3 .keras)")
    return build(spec, str(path), seed=seed)


def _sniff(path: Path) -> str | None:
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(b"\x89HDF"):
        return "h5"
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as z:
                names = set(z.namelist())
        except (zipfile.BadZipFile, OSError):
            names = set()
        if "config.json" in names and "model.weights.h5" in names:
            return "keras"
        if path.suffix.lower() == ".keras":
            return "keras"
        return "pytorch"
    suffix = MODEL_SUFFIXES.get(path.suffix.lower())
    if suffix:
        return suffix
    if head.startswith(b"\x80"):  # a legacy (non-zip) torch pickle
        return "pytorch"
    return None
