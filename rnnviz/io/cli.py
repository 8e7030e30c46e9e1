"""``rnnviz trace --model FILE``: the command-line side of rnnviz.io (flags and the command).

rnnviz/cli.py adds these flags to ``trace`` and hands over when ``--model`` is given. The model
file decides the network, so the model flags (--cell, --hidden-size, ...) are refused beside it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rnnviz.io.data import SHAPES

# Run flags that describe the network: the file decides these.
_NETWORK_FLAGS = ("cell", "hidden_size", "num_layers", "bidirectional", "init", "init_scale", "forget_bias",
                  "config", "task", "text", "steps", "data")
DEFAULT_SEQ_LEN, DEFAULT_BATCH = 20, 4
DEFAULT_DATA_SEQ_LEN = 50


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    """Add ``--model FILE`` and ``--trust`` to a subcommand's parser."""
    g = parser.add_argument_group("your own model")
    g.add_argument("--model", metavar="FILE", help="record a saved network instead of building one: "
                   "PyTorch .pt/.pth, ONNX .onnx or Keras 3 .keras (checked against its framework to 1e-4)")
    g.add_argument("--trust", action="store_true", help="allow a PyTorch file that needs full unpickling "
                   "(a whole pickled module): this runs code from the file, so only for files you trust")


def add_data_flags(parser: argparse.ArgumentParser) -> None:
    """Add ``--data FILE`` (your own sequences) and its options to a subcommand's parser."""
    g = parser.add_argument_group("your own data")
    g.add_argument("--data", metavar="FILE", help="train/record on your sequences: a CSV, .npy or .npz of time "
                   "series (rows = time steps, columns = features) or a text file (character model)")
    g.add_argument("--data-shape", choices=SHAPES, default=None,
                   help="next-step (default: predict the next row), many-to-many or many-to-one")
    g.add_argument("--target", metavar="COL", help="CSV column(s) holding the targets, by name or 0-based index; "
                   "comma-separated for several")
    g.add_argument("--targets", metavar="FILE", help="a second file with the targets, one row per input row")


def apply_data(args) -> None:
    """With ``--data``: make the file the run's task (or the char_lm text) before the config is built."""
    from rnnviz.cli import UsageError
    from rnnviz.core.tasks import TASKS
    from rnnviz.io.data import is_text_file, load_sequences, load_text
    from rnnviz.io.errors import DataFileError

    if not args.data:
        if args.data_shape or args.target or args.targets:
            raise UsageError("--data-shape, --target and --targets describe a --data file; give --data FILE")
        return
    try:
        if is_text_file(args.data):
            if args.task in TASKS and not TASKS[args.task].uses_text:
                raise UsageError(f"--task {args.task} does not read text; a text file trains char_lm or word_lm")
            if args.text is not None:
                raise UsageError("--text and a text --data file: choose one")
            args.text, args.task = load_text(args.data), args.task or "char_lm"
            return
        if args.task:
            raise UsageError(f"--task {args.task} and --data: your data file is the task")
        target = args.target.split(",") if args.target else None
        data = load_sequences(args.data, shape=args.data_shape or "next-step", target=target,
                              targets_file=args.targets)
        args.task = data.register()
        if args.seq_len is None:
            args.seq_len = min(DEFAULT_DATA_SEQ_LEN, data.max_seq_len)
        elif args.seq_len > data.max_seq_len:
            raise UsageError(f"--seq-len {args.seq_len} is longer than {args.data} allows ({data.max_seq_len})")
    except DataFileError as exc:
        raise UsageError(str(exc)) from None


def cmd_trace_model(args) -> int:
    """Record one trace of an imported network on a reproducible input; print the check and the summary."""
    from rnnviz.cli import EXIT_OK, UsageError, _writable_folder, trace_summary
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
    _, trace = imported.record(args.seq_len or DEFAULT_SEQ_LEN, args.batch_size or DEFAULT_BATCH, args.seed or 0,
                               clip_norm=args.clip_norm, clip_value=args.clip_value)
    path = trace.save(out)
    print(trace_summary(trace, path))
    return EXIT_OK
