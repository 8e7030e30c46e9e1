"""ONNX models with ``RNN`` / ``LSTM`` / ``GRU`` nodes (the ``onnx`` package reads them).

Per the ONNX operator spec, W is (D, G*H, I), R is (D, G*H, H) and B is (D, 2*G*H) = [Wb, Rb];
gate blocks come in the order LSTM i, o, f, c and GRU z, r, h. PyTorch's are i, f, g, o and
r, z, n, so blocks are reordered here. A GRU with ``linear_before_reset=1`` (what torch exports)
is PyTorch's GRU; with 0 (the operator's default) it applies the reset gate before the recurrent
matrix: rnnviz's ``gru_reset_before`` cell. Consecutive recurrent nodes are the layers of one deep network; a
``Gather`` of an initializer in front is the embedding, a ``MatMul``/``Gemm`` (+ ``Add``) of an
initializer after the last one is the head. The whole graph is then run by onnxruntime (or the
``onnx`` reference evaluator when onnxruntime is missing) to check rnnviz's equations.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnviz.io.errors import ModelImportError, missing_package
from rnnviz.io.imported import CHECK_BATCH, CHECK_SEQ_LEN, NetSpec

_CELLS = {"RNN": "rnn", "LSTM": "lstm", "GRU": "gru"}
# position in ONNX's gate order of each of PyTorch's gates
_TO_TORCH = {"rnn": [0], "lstm": [0, 2, 3, 1], "gru": [1, 0, 2], "gru_reset_before": [1, 0, 2]}
_DEFAULT_ACTS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"]}
_PASS_THROUGH = {"Transpose", "Cast", "Identity", "Unsqueeze", "Squeeze", "Reshape", "Gather"}


def load_onnx(path: Path) -> NetSpec:
    """Read an ONNX model into a :class:`NetSpec` whose reference is onnxruntime running the graph."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise missing_package("onnx", "opening an ONNX model") from None
    try:
        proto = onnx.load(str(path))
    except Exception as exc:  # protobuf's DecodeError and friends: not an ONNX file
        raise ModelImportError(f"{path.name} is not a readable ONNX model ({type(exc).__name__}: "
                               f"{str(exc).strip()[:200]})") from None
    graph = proto.graph
    consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    nodes = list(graph.node)
    rec = [(i, n) for i, n in enumerate(nodes) if n.op_type in _CELLS and n.domain in ("", "ai.onnx")]
    if not rec:
        ops = sorted({n.op_type for n in nodes})
        raise ModelImportError(f"{path.name} has no RNN / LSTM / GRU node (its operators: {', '.join(ops[:12])}); "
                               "export with torch.onnx.export(..., dynamo=False) to keep recurrent nodes")
    spec = _stack(rec, consts, path)
    spec.embedding = _embedding(nodes, consts, rec[0][1], spec.input_size)
    if spec.embedding is not None:
        spec.notes.append(f"embedding {tuple(spec.embedding.shape)} used as the input map")
    spec.head = _head(nodes[rec[-1][0] + 1:], consts, spec.num_directions * spec.hidden_size)
    batch_first = _attr(rec[0][1], "layout", 0) == 1 or _transposed_input(nodes, rec[0][1])
    if batch_first:
        spec.notes.append("batch-first input: shown time-major")
    layout = int(_attr(rec[-1][1], "layout", 0))
    spec.reference, spec.reference_name = _runner(proto, graph, batch_first, spec, layout)
    return spec


def _attr(node, name, default):
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            value = helper.get_attribute_value(a)
            if isinstance(value, bytes):
                return value.decode()
            if isinstance(value, list):
                return [v.decode() if isinstance(v, bytes) else v for v in value]
            return value
    return default


def _stack(rec, consts, path) -> NetSpec:
    op = rec[0][1].op_type
    cell = _CELLS[op]
    ops = {n.op_type for _, n in rec}
    if len(ops) > 1:
        raise ModelImportError(f"{path.name} mixes {', '.join(sorted(ops))} nodes: rnnviz shows one kind of cell")
    weights, activation, H, I, D = {}, "tanh", None, None, None
    if op == "GRU":  # linear_before_reset=1 is PyTorch's GRU; 0 applies the reset gate before R
        kinds = {bool(_attr(n, "linear_before_reset", 0)) for _, n in rec}
        if len(kinds) > 1:
            raise ModelImportError(f"{path.name} mixes GRU nodes with linear_before_reset 0 and 1: rnnviz shows "
                                   "one kind of cell")
        cell = "gru" if kinds.pop() else "gru_reset_before"
    for layer, (_, node) in enumerate(rec):
        name = f"{op} node {node.name or layer}"
        direction = _attr(node, "direction", "forward")
        if direction == "reverse":
            raise ModelImportError(f"{name} runs in reverse only; rnnviz shows forward or bidirectional layers")
        d = 2 if direction == "bidirectional" else 1
        if _attr(node, "clip", None) is not None:
            raise ModelImportError(f"{name} clips its cell inputs (clip attribute): rnnviz's cells do not")
        if op == "LSTM" and _attr(node, "input_forget", 0):
            raise ModelImportError(f"{name} couples input and forget gates (input_forget=1): rnnviz's LSTM does not")
        acts = _attr(node, "activations", None)
        if op == "RNN":
            acts = acts or ["Tanh"] * d
            if len(set(acts)) != 1 or acts[0] not in ("Tanh", "Relu"):
                raise ModelImportError(f"{name} uses activations {acts}; rnnviz's SimpleRNN uses tanh or relu")
            activation = acts[0].lower()
        elif acts and acts != _DEFAULT_ACTS[op] * d:
            raise ModelImportError(f"{name} uses activations {acts}; rnnviz's {op} uses {_DEFAULT_ACTS[op]}")
        W, R = (_const(consts, node, k, name) for k in (1, 2))
        B = _const(consts, node, 3, name, optional=True)
        if len(node.input) > 7 and node.input[7]:
            P = _const(consts, node, 7, name)
            if np.any(P):
                raise ModelImportError(f"{name} has peephole weights P: rnnviz's LSTM has none")
        h = int(_attr(node, "hidden_size", R.shape[-1]))
        G = len(_TO_TORCH[cell])
        if W.ndim != 3 or R.shape != (d, G * h, h) or W.shape[:2] != (d, G * h):
            raise ModelImportError(f"{name}: W {W.shape} / R {R.shape} do not fit {d} direction(s) x {G} gates x "
                                   f"hidden {h}")
        if layer == 0:
            H, I, D = h, W.shape[2], d
        elif (h, d) != (H, D) or W.shape[2] != D * H:
            raise ModelImportError(f"{name} does not continue the layer before it (hidden {h}, {d} direction(s), "
                                   f"input {W.shape[2]}): rnnviz shows one stack of equal layers")
        for k in range(d):
            sfx = f"_l{layer}" + ("_reverse" if k else "")
            weights["weight_ih" + sfx] = _reorder(W[k], cell, h)
            weights["weight_hh" + sfx] = _reorder(R[k], cell, h)
            if B is not None:
                weights["bias_ih" + sfx] = _reorder(B[k, :G * h], cell, h)
                weights["bias_hh" + sfx] = _reorder(B[k, G * h:], cell, h)
    notes = ["GRU linear_before_reset=0: the reset gate scales h before the recurrent matrix"] \
        if cell == "gru_reset_before" else []
    return NetSpec(framework="ONNX", kind=f"graph ({len(rec)} {op} node{'s' * (len(rec) > 1)})", cell=cell,
                   input_size=int(I), hidden_size=int(H), num_layers=len(rec), bidirectional=D == 2,
                   activation=activation, weights=weights, notes=notes)


def _const(consts, node, k, name, optional=False):
    if len(node.input) <= k or not node.input[k]:
        if optional:
            return None
        raise ModelImportError(f"{name} has no input {k}")
    value = consts.get(node.input[k])
    if value is None:
        raise ModelImportError(f"{name}: its weights {node.input[k]!r} are computed in the graph, not stored; "
                               "rnnviz reads stored weights (export with constant folding)")
    return np.asarray(value, dtype=np.float32)


def _reorder(block: np.ndarray, cell: str, h: int) -> np.ndarray:
    parts = [block[i * h:(i + 1) * h] for i in range(len(_TO_TORCH[cell]))]
    return np.ascontiguousarray(np.concatenate([parts[i] for i in _TO_TORCH[cell]], axis=0))


def _embedding(nodes, consts, first, input_size):
    for n in nodes:
        if n.op_type == "Gather" and n.input and n.input[0] in consts:
            table = consts[n.input[0]]
            if table.ndim == 2 and table.shape[1] == input_size:
                return np.asarray(table, dtype=np.float32)
        if n is first:
            return None
    return None


def _head(after, consts, hidden_out):
    """The first MatMul/Gemm by a stored matrix that takes the D*H hidden units, and its bias."""
    for i, n in enumerate(after):
        if n.op_type == "MatMul" and n.input[1] in consts and consts[n.input[1]].ndim == 2 \
                and consts[n.input[1]].shape[0] == hidden_out:
            W = np.asarray(consts[n.input[1]], np.float32).T
            b = np.zeros(W.shape[0], np.float32)
            for m in after[i + 1:]:
                if m.op_type == "Add" and n.output[0] in m.input:
                    other = [x for x in m.input if x != n.output[0]]
                    if other and other[0] in consts and np.shape(consts[other[0]]) == (W.shape[0],):
                        b = np.asarray(consts[other[0]], np.float32)
                    break
            return W, b
        if n.op_type == "Gemm" and len(n.input) > 1 and n.input[1] in consts:
            Bm = np.asarray(consts[n.input[1]], np.float32)
            W = Bm if _attr(n, "transB", 0) else Bm.T
            if W.ndim == 2 and W.shape[1] == hidden_out and not _attr(n, "transA", 0):
                W = W * float(_attr(n, "alpha", 1.0))
                C = consts.get(n.input[2]) if len(n.input) > 2 and n.input[2] else None
                b = np.zeros(W.shape[0], np.float32) if C is None else \
                    np.broadcast_to(np.asarray(C, np.float32) * float(_attr(n, "beta", 1.0)), (W.shape[0],))
                return W, np.array(b)
    return None


def _transposed_input(nodes, first) -> bool:
    """True when the graph input reaches the first recurrent node through a (1, 0, 2) Transpose."""
    producers = {o: n for n in nodes for o in n.output}
    name, seen = first.input[0], 0
    while name in producers and seen < 50:
        n = producers[name]
        if n.op_type == "Transpose" and list(_attr(n, "perm", []))[:2] == [1, 0]:
            return True
        if n.op_type not in _PASS_THROUGH:
            return False
        name, seen = n.input[0] if n.op_type != "Gather" else n.input[1], seen + 1
    return False


def _runner(proto, graph, batch_first, spec, layout=0):
    """Run the whole graph on time-major inputs, return time-major outputs.

    A graph whose output is a recurrent node's own Y (4-D: (T, D, B, H), or (B, T, D, H) with
    ``layout=1``) gives its directions side by side, (T, B, D*H), as rnnviz's hidden states do."""
    from onnx import helper

    init = {t.name for t in graph.initializer}
    feeds = [i for i in graph.input if i.name not in init]
    if len(feeds) != 1:
        raise ModelImportError(f"the graph takes {len(feeds)} inputs ({', '.join(i.name for i in feeds)}); "
                               "rnnviz feeds one sequence")
    feed = feeds[0]
    dtype = helper.tensor_dtype_to_np_dtype(feed.type.tensor_type.elem_type)
    dims = [d.dim_value if d.HasField("dim_value") else None for d in feed.type.tensor_type.shape.dim]
    if len(dims) >= 2 and (dims[0] or dims[1]):  # a fixed time or batch size: check at the graph's own
        t_dim, b_dim = (dims[1], dims[0]) if batch_first else (dims[0], dims[1])
        spec.check_shape = (t_dim or CHECK_SEQ_LEN, b_dim or CHECK_BATCH)
    try:
        import onnxruntime as ort

        session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
        run, name = (lambda x: session.run(None, {feed.name: x})[0]), "onnxruntime"
    except ImportError:
        from onnx.reference import ReferenceEvaluator

        evaluator = ReferenceEvaluator(proto)
        run, name = (lambda x: evaluator.run(None, {feed.name: x})[0]), "onnx reference evaluator"
    except Exception as exc:
        raise ModelImportError(f"onnxruntime cannot load this graph: {str(exc).strip()[:300]}") from None

    def reference(inputs: np.ndarray) -> np.ndarray:
        x = np.swapaxes(inputs, 0, 1) if batch_first else inputs
        y = np.asarray(run(np.ascontiguousarray(x.astype(dtype))))
        if y.ndim == 4 and y.shape[1 + layout] == spec.num_directions:
            y = (y.reshape(*y.shape[:2], -1) if layout else
                 y.transpose(0, 2, 1, 3).reshape(y.shape[0], y.shape[2], -1))
        return np.swapaxes(y, 0, 1) if batch_first and y.ndim == 3 else y

    return reference, name
