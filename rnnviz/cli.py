"""The ``rnnviz`` command line: the GUI, lessons, and headless ``trace`` / ``train`` / ``export``.

::

    rnnviz                                   # the GUI (optionally --lesson, --present, --screenshot)
    rnnviz lessons                           # the built-in lessons, one per line
    rnnviz trace --config run.toml -o run.npz
    rnnviz train --config run.toml --steps 2000 -o out/
    rnnviz export run.npz --png fig.png
    rnnviz dynamics --config run.toml -o out.npz --png fig.png   # fixed points, Jacobians, ...

Flags mirror the config keys and override the file. Bad input gets one line on stderr that
starts with ``rnnviz:`` and exit status 2; nothing here prints a traceback. This module never
imports Qt: the GUI is imported only when it is asked for.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import signal
import sys
import time
import warnings
from pathlib import Path

from rnnviz.dynamics import cli as dynamics_cli
from rnnviz.io import cli as io_cli
from rnnviz.train_output import TrainWriter, fmt_number

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143


class Terminated(KeyboardInterrupt):  # noqa: N818 - a signal, handled like Ctrl+C
    """SIGTERM: stop like Ctrl+C does, then exit 143."""


class UsageError(Exception):
    """Bad input from the user: printed as one ``rnnviz: ...`` line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``rnnviz: ...``) instead of a usage block."""

    def error(self, message):  # noqa: D401 - argparse API
        hint = f" (see '{self.prog} --help')"
        self.exit(EXIT_USAGE, f"rnnviz: {message}{hint}\n")


def _say(msg: str) -> None:
    print(f"rnnviz: {msg}", file=sys.stderr)


# ---------------------------------------------------------------------------------------
# The parser
# ---------------------------------------------------------------------------------------
_THREADS_HELP = ("torch CPU threads (default: the cores other programs leave free; "
                 "env RNNVIZ_THREADS sets the default)")


def _add_run_flags(p: argparse.ArgumentParser, out_help: str, steps_help: str) -> None:
    p.add_argument("--config", metavar="FILE", help="run config (.toml or .json); flags below override it")
    m = p.add_argument_group("model")
    from rnnviz.core.cells import CELLS  # the registry, so a newly registered cell is listed too

    m.add_argument("--cell", help=" | ".join(CELLS))
    m.add_argument("--hidden-size", type=int, metavar="H")
    m.add_argument("--num-layers", type=int, metavar="L")
    m.add_argument("--bidirectional", action=argparse.BooleanOptionalAction, default=None)
    m.add_argument("--activation", help="tanh | relu | linear (for --cell rnn)")
    m.add_argument("--init", help="default | identity | orthogonal | xavier")
    m.add_argument("--init-scale", type=float, metavar="S", help="scale of W_hh for identity/orthogonal")
    m.add_argument("--forget-bias", type=float, metavar="B", help="LSTM forget-gate bias")
    t = p.add_argument_group("task")
    t.add_argument("--task", help="task name (adding, copy, char_lm, word_lm, sentiment, ...)")
    t.add_argument("--seq-len", type=int, metavar="T")
    t.add_argument("--batch-size", type=int, metavar="B")
    t.add_argument("--text", help="your own text for the char_lm / word_lm tasks")
    r = p.add_argument_group("training")
    r.add_argument("--optimizer", help="sgd | momentum | rmsprop | adam")
    r.add_argument("--lr", type=float)
    r.add_argument("--momentum", type=float)
    r.add_argument("--clip", help="none | norm | value (set by --clip-norm / --clip-value)")
    r.add_argument("--clip-norm", type=float, metavar="X", help="clip the global gradient norm to X")
    r.add_argument("--clip-value", type=float, metavar="X", help="clip every gradient element to [-X, X]")
    r.add_argument("--tbptt", type=int, metavar="K", help="truncated BPTT window (0 = full BPTT)")
    r.add_argument("--record-every", type=int, metavar="N", help="record a trace every N steps")
    r.add_argument("--steps", type=int, metavar="N", help=steps_help)
    g = p.add_argument_group("run")
    g.add_argument("--device", help="cpu | cuda | cuda:N | mps | auto")
    g.add_argument("--seed", type=int)
    g.add_argument("--threads", metavar="N", help=_THREADS_HELP)
    g.add_argument("-o", "--output", metavar="PATH", help=out_help)


def _add_export(sub) -> None:
    """Wire ``rnnviz export`` from rnnviz.export.cli."""
    from rnnviz.export import cli as export_cli

    export_cli.add_parser(sub)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used to document the CLI)."""
    parser = _Parser(prog="rnnviz", description="See how recurrent neural networks work. "
                     "With no command, opens the GUI.")
    parser.add_argument("--version", action="version", version=f"rnnviz {_version()}")
    gui = parser.add_argument_group("GUI (no command)")
    gui.add_argument("--lesson", metavar="NAME|FILE.toml",
                     help="open on this lesson (default: 'recurrence' unless --config is given)")
    gui.add_argument("--present", action="store_true", help="presentation mode (large fonts, full screen)")
    gui.add_argument("--screenshot", metavar="PATH.png", help="render the window to PATH.png and exit")
    gui.add_argument("--config", dest="gui_config", metavar="FILE", help="open this run config")
    gui.add_argument("--threads", metavar="N", help=_THREADS_HELP)
    parser.set_defaults(func=cmd_gui)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("lessons", help="list the built-in lessons")
    p.set_defaults(func=cmd_lessons)

    p = sub.add_parser("trace", help="record one forward + BPTT pass to a .npz trace, headless",
                       description="Build the model for a run config, run one batch forward and "
                       "backpropagate through time (nothing is updated unless --steps trains first), "
                       "write a .npz trace and print a one-line summary.")
    _add_run_flags(p, out_help="trace file to write (default: trace.npz)",
                   steps_help="train this many steps before recording (default 0: the initial weights)")
    io_cli.add_model_flags(p)
    io_cli.add_data_flags(p)
    p.set_defaults(func=cmd_trace)

    p = sub.add_parser("train", help="train headless; writes weights, history.csv, config and traces",
                       description="Train a run config headless. Writes into -o DIR: weights.pt, "
                       "weights.npz, config.toml, history.csv (step,loss,grad_norm,clipped), "
                       "traces/step_NNNNNN.npz and trace_final.npz.")
    _add_run_flags(p, out_help="output folder (default: rnnviz-out)",
                   steps_help="training steps (default: the config's steps)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary line")
    io_cli.add_data_flags(p)
    p.set_defaults(func=cmd_train)

    dynamics_cli.add_parser(sub, _add_run_flags)
    _add_export(sub)
    return parser


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("rnnviz")
    except Exception:
        return "unknown"


# ---------------------------------------------------------------------------------------
# Config from file + flags
# ---------------------------------------------------------------------------------------
_FLAG_KEYS = ("cell", "hidden_size", "num_layers", "bidirectional", "activation", "init", "init_scale",
              "forget_bias", "task", "seq_len", "batch_size", "text", "optimizer", "lr", "momentum",
              "clip", "clip_norm", "clip_value", "tbptt", "record_every", "device", "seed")


def config_from_args(args):
    """The RunConfig of ``--config`` (or the defaults) with the command-line flags applied."""
    from rnnviz.core.config import RunConfig, load_config

    cfg = load_config(args.config) if args.config else RunConfig()
    flat = {k: getattr(args, k) for k in _FLAG_KEYS}
    if args.clip_norm is not None and args.clip_value is not None:
        raise UsageError("--clip-norm and --clip-value cannot be used together: choose one way to clip")
    if args.clip_norm is not None:
        if args.clip not in (None, "norm"):
            raise UsageError(f"--clip-norm contradicts --clip {args.clip}")
        flat["clip"] = "norm"
    if args.clip_value is not None:
        if args.clip not in (None, "value"):
            raise UsageError(f"--clip-value contradicts --clip {args.clip}")
        flat["clip"] = "value"
    return cfg.with_overrides(**flat)


def _check_size(cfg) -> None:
    """Refuse a run that would not fit in memory (weights, task inputs, recording), naming what to shrink."""
    from rnnviz.core.budget import check_run_size

    check_run_size(cfg)


def _build(cfg):
    from rnnviz.core.train import build_run

    try:
        model, probe = build_run(cfg)
    except ValueError as exc:  # task or device arguments the core rejects
        raise UsageError(str(exc).splitlines()[0]) from None
    return model, probe


def _writable_folder(folder: Path) -> None:
    """Create ``folder`` (and parents) and prove a file can be written there."""
    try:
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"cannot write output: {folder} exists and is not a folder")
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".rnnviz-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except UsageError:
        raise
    except OSError as exc:
        raise UsageError(f"cannot write output to {folder}: {exc.strerror or exc}") from None


def _target(path: Path) -> Path:
    """Refuse an output that is a folder or a special file (``/dev/full``): one line, exit 2."""
    from rnnviz.core.safeio import FileRefused
    from rnnviz.core.safewrite import check_target

    try:
        return check_target(path)
    except FileRefused as exc:
        raise UsageError(str(exc)) from None


def trace_summary(trace, path) -> str:
    """One line: what was recorded, loss, gradient norm, clipping, NaN/Inf and where it went."""
    c = trace.config
    shape = f"T={trace.seq_len} B={trace.recorded_batch_size}"
    if trace.batch_size < trace.recorded_batch_size:  # a long recording kept some samples to bound memory
        from rnnviz.app.panel_model import kept_text

        shape += f" ({kept_text(trace)})"
    name = f"{c.get('cell', '?')} H={c.get('hidden_size', '?')}"
    if c.get("num_layers", 1) > 1:
        name += f" L={c['num_layers']}"
    if c.get("bidirectional"):
        name += " bi"
    clip = ""
    if trace.meta.get("clip_norm") is not None or trace.meta.get("clip_value") is not None:
        clip = f" (clipped to {fmt_number(trace.grad_norm_clipped)})" if trace.clipped else " (not clipped)"
    nonfinite = trace.nonfinite or not (math.isfinite(trace.loss) and math.isfinite(trace.grad_norm))
    bad = "NaN/Inf present!" if nonfinite else "no NaN/Inf"
    task = trace.meta.get("task", "?")
    return (f"{name} on {task} {shape}: loss {fmt_number(trace.loss)}, grad norm {fmt_number(trace.grad_norm)}{clip}, "
            f"{bad} -> {path}")


# ---------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------
def cmd_trace(args) -> int:
    """``rnnviz trace``: record one run (after ``--steps`` of training, default none)."""
    from rnnviz.core.safewrite import clean_stale_temporaries
    from rnnviz.core.train import Trainer

    if args.model:  # a saved network: rnnviz.io decides the rest
        return io_cli.cmd_trace_model(args)
    io_cli.apply_data(args)  # --data FILE becomes the task
    cfg = config_from_args(args)
    _check_size(cfg)  # before anything is created
    out = _target(Path(args.output or "trace.npz"))  # /dev/full must not become /dev/full.npz
    if out.suffix != ".npz":
        out = _target(out.with_name(out.name + ".npz"))
    folder = out.parent if str(out.parent) else Path(".")
    _writable_folder(folder)
    clean_stale_temporaries(folder)
    model, _ = _build(cfg)
    steps = args.steps or 0
    cfg.train.record_every = 0
    trainer = Trainer(model, cfg.task, cfg.train)
    if steps:
        trainer.run(steps)  # ends by recording a trace of the trained weights
        trace = trainer.traces[-1][1]
    else:
        trace = trainer.record_trace()
    path = trace.save(out)
    print(trace_summary(trace, path))
    return EXIT_OK


class _Signals:
    """Ctrl+C and SIGTERM during training: the first stops at the end of the step, a second aborts."""

    def __init__(self, trainer):
        self.trainer, self.received = trainer, None
        self._old = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.received is not None:  # the second signal: stop now
            raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()
        self.received = signum
        self.trainer.stop()

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)

    @property
    def code(self) -> int | None:
        if self.received is None:
            return None
        return EXIT_TERMINATED if self.received == signal.SIGTERM else EXIT_INTERRUPTED


def cmd_train(args) -> int:
    """``rnnviz train``: train headless with a progress bar; write weights, history and traces together."""
    from tqdm import tqdm

    from rnnviz.core.train import Trainer

    io_cli.apply_data(args)  # --data FILE becomes the task
    cfg = config_from_args(args)
    steps = cfg.train.steps if args.steps is None else args.steps
    cfg = cfg.with_overrides(steps=steps)
    _check_size(cfg)  # before the output folder is created
    folder = Path(args.output or "rnnviz-out")
    _writable_folder(folder)
    model, _ = _build(cfg)
    show = not args.quiet and sys.stderr.isatty()
    bar = tqdm(total=steps, file=sys.stderr, unit="step", dynamic_ncols=True, disable=not show, leave=True)
    writer = TrainWriter(folder, bar if show else None)
    trainer = Trainer(model, cfg.task, cfg.train, callbacks=[writer])
    start = time.perf_counter()
    committed = False
    try:
        with _Signals(trainer) as signals:
            try:
                trainer.run(steps)
            finally:
                bar.close()
            cfg.train.steps = trainer.step
            writer.commit(model, cfg)
            committed = True
    finally:
        if not committed:  # a failure or a second signal: the earlier run's files stay as they were
            writer.abort()
    elapsed = time.perf_counter() - start
    if not args.quiet:
        row = writer.last_row
        last = f"loss {fmt_number(row['loss'])}, grad norm {fmt_number(row['grad_norm'])}" if row else "no steps run"
        what = "stopped after" if signals.code else "trained"
        print(f"{what} {trainer.step} steps in {elapsed:.1f} s: {last}, {writer.clipped} clipped -> {folder}")
    if signals.code:
        how = "terminated" if signals.code == EXIT_TERMINATED else "interrupted"
        _say(f"{how}: wrote what was done so far ({trainer.step} steps) to {folder}")
        return signals.code
    return EXIT_OK


def cmd_lessons(args) -> int:
    """``rnnviz lessons``: one lesson per line, its name then a one-line description."""
    from rnnviz.app.lessons import list_lessons

    problems: list = []
    lessons = list(list_lessons(errors=problems))
    for problem in problems:  # a bad user lesson is skipped, the rest are still listed
        _say(f"skipped a lesson: {' '.join(str(problem).split())}")
    width = max((len(str(lesson.name)) for lesson in lessons), default=0)
    for lesson in lessons:
        desc = " ".join(lesson.description.split())
        print(f"{lesson.name:<{width}}  {desc}".rstrip())
    return EXIT_OK


def _has_display() -> bool:
    if sys.platform != "linux":
        return True
    if os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


DEFAULT_LESSON = "recurrence"  # what plain `rnnviz` opens on: h_t = f_W(h_{t-1}, x_t), step by step


def cmd_gui(args) -> int:
    """No command: open the GUI (or, with --screenshot, render it to a PNG and exit)."""
    config = None
    if args.gui_config:
        from rnnviz.core.config import load_config

        config = load_config(args.gui_config)
    if args.screenshot:
        _target(Path(args.screenshot))
        _writable_folder(Path(args.screenshot).parent if str(Path(args.screenshot).parent) else Path("."))
        if not _has_display():
            os.environ["QT_QPA_PLATFORM"] = "offscreen"
    elif not _has_display():
        _say("cannot open the GUI: no display (DISPLAY/WAYLAND_DISPLAY unset); "
             "use --screenshot PATH.png, or a headless command (see 'rnnviz --help')")
        return EXIT_USAGE
    # the GUI's libraries are an optional install (checked without importing them here);
    # rnnviz's own modules are imported plainly
    missing = [name for name in ("PySide6", "pyqtgraph") if importlib.util.find_spec(name) is None]
    if missing:
        _say(f"cannot open the GUI: {' and '.join(missing)} not installed; "
             "install it with 'pip install PySide6-Essentials pyqtgraph'")
        return EXIT_USAGE
    from rnnviz.qt.app import run_gui

    lesson = args.lesson
    if lesson is None and config is None:
        lesson = DEFAULT_LESSON
    return int(run_gui(config=config, lesson=lesson, present=args.present, screenshot=args.screenshot) or 0)


# ---------------------------------------------------------------------------------------
def configure_numerics(threads: str | None) -> int:
    """Fast arithmetic for the whole program, before torch starts its threads: subnormals
    flushed to zero, and the thread count from ``--threads``, else ``RNNVIZ_THREADS``, else the
    free cores. The choice goes into ``RNNVIZ_THREADS`` so the GUI and the library keep it."""
    from rnnviz.core.numerics import THREADS_ENV, choose_threads, configure_process

    try:
        n = choose_threads(threads)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if threads is not None:
        os.environ[THREADS_ENV] = str(n)
    return configure_process(n)


# ---------------------------------------------------------------------------------------
def _on_sigterm(signum, frame):
    raise Terminated()


def bad_input_errors() -> tuple[type[BaseException], ...]:
    """The exception types that mean "the user gave something unusable": one line, exit 2."""
    from rnnviz.app.lessons import LessonError
    from rnnviz.app.session import SessionFileError
    from rnnviz.core.config import ConfigError
    from rnnviz.core.safeio import FileRefused
    from rnnviz.core.trace import TraceFileError

    return (UsageError, ConfigError, TraceFileError, SessionFileError, LessonError, FileRefused)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 failed, 2 bad input, 130 Ctrl+C, 143 SIGTERM)."""
    parser = build_parser()
    # torch's note about float() on a tensor that requires grad is noise for a CLI user
    warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad", category=UserWarning)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and one-line parse errors
        return int(exc.code or 0) if not isinstance(exc.code, str) else EXIT_USAGE
    bad_input = bad_input_errors()
    old_term = signal.signal(signal.SIGTERM, _on_sigterm)  # SIGTERM: like Ctrl+C, exit 143
    try:
        if args.func in (cmd_trace, cmd_train, cmd_gui):
            configure_numerics(args.threads)
        return args.func(args)
    except bad_input as exc:
        _say(_one_line(exc))
        return EXIT_USAGE
    except Terminated:
        _say("terminated; nothing half-written was left behind")
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        _say("interrupted; nothing half-written was left behind")
        return EXIT_INTERRUPTED
    except MemoryError:
        _say("out of memory: make the run smaller (seq_len, batch_size, hidden_size)")
        return EXIT_FAIL
    except OSError as exc:
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        _say(f"cannot write or read{where}: {exc.strerror or exc}")
        return EXIT_FAIL
    except Exception as exc:  # never a traceback for the user; RNNVIZ_DEBUG=1 shows it
        if os.environ.get("RNNVIZ_DEBUG"):
            raise
        _say(f"failed: {type(exc).__name__}: {_one_line(exc)} (set RNNVIZ_DEBUG=1 for details)")
        return EXIT_FAIL
    finally:
        signal.signal(signal.SIGTERM, old_term)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
