"""``rnnviz trace --model FILE``: the command-line side of rnnviz.io (flags and the command).

rnnviz/cli.py adds these flags to ``trace`` and hands over when ``--model`` is given. The model
file decides the network, so the model flags (--cell, --hidden-size, ...) are refused beside it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

# Run flags that describe the network: the file decides these.
_NETWORK_FLAGS = ("cell", "hidden_size", "num_layers", "bidirectional", "init", "init_scale", "forget_bias",
                  "config", "task", "text", "steps")
DEFAULT_SEQ_LEN, DEFAULT_BATCH = 20, 4


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    """Add ``--model FILE`` and ``--trust`` to a subcommand's parser."""
    g = parser.add_argument_group("your own model")
    g.add_argument("--model", metavar="FILE", help="record a saved network instead of building one: "
                   "PyTorch .pt/.pth, ONNX .onnx or Keras 3 .keras (checked against its framework to 1e-4)")
    g.add_argument("--trust", action="store_true", help="allow a PyTorch file that needs full unpickling "
                   "(a whole pickled module): this runs code from the file, so only for files you trust")


def cmd_trace_model(args) -> int:
    """Record one trace of an imported network on a reproducible input; print the check and the summary."""
    import torch

    from rnnviz.cli import EXIT_OK, UsageError, _writable_folder, trace_summary
    from rnnviz.core.record import record
    from rnnviz.io.errors import DataFileError, ModelImportError
    from rnnviz.io.models import load_model

    given = [f"--{k.replace('_', '-')}" for k in _NETWORK_FLAGS if getattr(args, k) not in (None, False, 0)]
    if given:
        raise UsageError(f"{', '.join(given)} cannot be used with --model: the model file decides the network "
                         "(use --seq-len, --batch-size, --seed for the input)")
    out = Path(args.output or "trace.npz")
    if out.suffix != ".npz":
        out = out.with_name(out.name + ".npz")
    _writable_folder(out.parent if str(out.parent) else Path("."))
    try:
        imported = load_model(args.model, trust=args.trust, activation=args.activation)
    except (ModelImportError, DataFileError) as exc:
        raise UsageError(str(exc)) from None
    print(imported.summary(), flush=True)
    seed = args.seed or 0
    T, B = args.seq_len or DEFAULT_SEQ_LEN, args.batch_size or DEFAULT_BATCH
    g = torch.Generator().manual_seed(seed)
    meta = {"task": "random input", "shape": "many-to-many", "source": str(args.model),
            "import": imported.summary(), "step": 0}
    if imported.embedding is not None:
        tokens = torch.randint(0, imported.vocab_size, (T, B), generator=g)
        x = imported.embed(tokens)
        meta["token_ids"] = tokens.tolist()
        meta["task"] = "random tokens"
    else:
        x = torch.randn(T, B, imported.input_size, generator=g)
    # No data given: the targets are zero, so the gradients shown are those of ½‖ŷ‖².
    y = torch.zeros(T, B, imported.model.cfg.output_size)
    clip = {"clip_norm": args.clip_norm, "clip_value": args.clip_value}
    trace = record(imported.model, x, y, loss="mse", meta=meta, **clip)
    path = trace.save(out)
    print(trace_summary(trace, path))
    return EXIT_OK
