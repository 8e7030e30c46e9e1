"""``rnnviz export``: figures, animations and data from a trace (.npz) or a session file, headless.

    rnnviz export RUN.npz|SESSION --png FIG.png --svg FIG.svg --gif STEPS.gif --csv SERIES.csv
                  --npz OUT.npz --history-csv HISTORY.csv --panels hidden,gates,gradients,graph
                  --size 1280x720 --scale 1.0 --fps 8 --frames N --animate forward|backward|training

Wiring (rnnviz/cli.py): ``add_parser(subparsers)`` adds the sub-command; ``run(args)`` does it
and returns the exit status. ``main(argv)`` runs it on its own. Errors: one stderr line
``rnnviz: ...``, exit status 2 for bad input (a bad file, option or target) and 1 when writing
fails; never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

__all__ = ["add_parser", "main", "run"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``export`` sub-command to an argparse ``subparsers`` object; returns its parser."""
    p = subparsers.add_parser(
        "export", help="write figures (PNG/SVG), animations (GIF/MP4) and data (CSV/NPZ) of a run",
        description="Export figures, animations and data of a trace (.npz) or a session file, without a display.")
    _arguments(p)
    p.set_defaults(func=run)
    return p


def _arguments(p: argparse.ArgumentParser) -> None:
    from rnnviz.export.frames import PANELS

    p.add_argument("source", help="a trace (.npz from `rnnviz trace`) or a session file saved by the app")
    p.add_argument("--png", metavar="FIG.png", help="still figure as PNG")
    p.add_argument("--svg", metavar="FIG.svg", help="still figure as SVG (vector)")
    p.add_argument("--gif", metavar="STEPS.gif", help="animation as GIF (or .mp4 with imageio-ffmpeg installed)")
    p.add_argument("--mp4", metavar="STEPS.mp4", help="animation as MP4 (needs imageio + imageio-ffmpeg)")
    p.add_argument("--csv", metavar="SERIES.csv", help="per-timestep series (gradient norms, losses, saturation)")
    p.add_argument("--json", metavar="SERIES.json", help="per-timestep series as JSON")
    p.add_argument("--npz", metavar="OUT.npz", help="the whole trace as .npz")
    p.add_argument("--history-csv", metavar="HISTORY.csv",
                   help="training history (step,loss,grad_norm,clipped) of a session")
    p.add_argument("--panels", default="default",
                   help=f"comma-separated: {','.join(PANELS)}, 'all', or 'default' (the default: "
                        "hidden,gates,gradients,graph, without the gates for a cell that has none)")
    p.add_argument("--size", default="1280x720", help="frame size in pixels, WxH (default 1280x720)")
    p.add_argument("--scale", type=float, default=1.0, help="pixel scale for projectors/print (default 1.0)")
    p.add_argument("--fps", type=float, default=8.0, help="animation frame rate (default 8)")
    p.add_argument("--frames", type=int, default=None, help="at most N animation frames (evenly spaced)")
    p.add_argument("--animate", choices=("forward", "backward", "training"), default=None,
                   help="which animation --gif shows (default: training for a session with traces, else forward)")
    p.add_argument("--layer", type=int, default=0, help="row k = layer*D + direction to show (default 0)")
    p.add_argument("--sample", type=int, default=0, help="batch sample to show (default 0)")
    p.add_argument("--trace-index", type=int, default=None,
                   help="for a session: which recorded trace to draw (default: the current one)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")


class _Fail(Exception):  # noqa: N818 - internal
    pass


def load_source(path: str):
    """(trace, traces, history) from a trace .npz or a session file; ValueError-like errors on bad input."""
    from rnnviz.app.session import MANIFEST, load_session
    from rnnviz.core.safeio import FileRefused, SafeZip
    from rnnviz.core.trace import Trace

    p = Path(path)
    try:  # a FIFO or a device is refused here, before anything opens it
        with SafeZip(p, what="an rnnviz trace (.npz) or session file") as z:
            is_session = MANIFEST in z.infos
    except FileRefused as exc:
        raise _Fail(str(exc)) from None
    if is_session:
        s = load_session(p)
        trace = s.trace if s.trace is not None else (s.traces[-1][1] if s.traces else None)
        return trace, s.traces, s.history
    return Trace.load(p), [], []


def run(args: argparse.Namespace) -> int:
    """Do the export described by ``args`` (from :func:`add_parser`); returns the exit status."""
    from rnnviz.app.session import SessionFileError
    from rnnviz.core.trace import TraceFileError
    from rnnviz.export.gif import ExportError

    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN trace is drawn, not warned about
            return _run(args)
    except (_Fail, SessionFileError, TraceFileError, ExportError, ValueError) as exc:
        _err(str(exc))
        return 2
    except OSError as exc:
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        _err(f"cannot write{where}: {exc.strerror or exc}")
    return 1


def _err(msg: str) -> None:
    print(f"rnnviz: {msg}".replace("\n", " "), file=sys.stderr)


MAX_PIXELS = 100_000_000  # 100 megapixels: a 10000x10000 print; beyond it a frame needs gigabytes


def _check_pixels(size: tuple[int, int], scale: float) -> None:
    """Refuse a frame that could not be drawn (``--size 20000x20000 --scale 8``) before drawing it."""
    from rnnviz.core.safeio import available_memory, human_bytes

    w, h = round(size[0] * scale), round(size[1] * scale)
    need = w * h * 4 * 3  # RGB(A) canvas, its copy for the image file and the encoder's rows
    limit = min(MAX_PIXELS, available_memory() // 24)
    if w * h > limit:
        raise _Fail(f"--size {size[0]}x{size[1]} at --scale {scale:g} is {w}x{h} pixels ({w * h / 1e6:.0f} "
                    f"megapixels, ~{human_bytes(need)}); at most {limit / 1e6:.0f} megapixels here: "
                    "make --size or --scale smaller")


def _check_target(path: str) -> Path:
    p = Path(path)
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.exists():
        raise _Fail(f"cannot write {path}: folder {folder} does not exist")
    if not folder.is_dir():
        raise _Fail(f"cannot write {path}: {folder} is not a folder")
    if p.is_dir():
        raise _Fail(f"cannot write {path}: it is a folder")
    if p.exists() and not p.is_file():
        raise _Fail(f"cannot write {path}: it is not a regular file")
    return p


def _run(args) -> int:
    from rnnviz.export import arrays, figures, gif
    from rnnviz.export.frames import parse_panels

    outputs = [args.png, args.svg, args.gif, args.mp4, args.csv, args.json, args.npz, args.history_csv]
    if not any(outputs):
        raise _Fail("nothing to export: give at least one of --png --svg --gif --mp4 --csv --json --npz "
                    "--history-csv")
    size = figures.parse_size(args.size)
    if not (0.1 <= args.scale <= 8):
        raise _Fail(f"--scale must be between 0.1 and 8, got {args.scale:g}")
    _check_pixels(size, args.scale)
    parse_panels(args.panels)  # a bad name fails before any work; "default" is resolved per trace
    panels = args.panels
    for target in outputs:
        if target:
            _check_target(target)
    trace, traces, history = load_source(args.source)
    if args.trace_index is not None:
        if not traces:
            raise _Fail("--trace-index needs a session with recorded traces")
        if not -len(traces) <= args.trace_index < len(traces):
            raise _Fail(f"--trace-index must be between 0 and {len(traces) - 1}")
        trace = traces[args.trace_index][1]
    if trace is None and any([args.png, args.svg, args.csv, args.json, args.npz]):
        raise _Fail(f"{args.source} holds no trace: record a run first")
    k, b = args.layer, args.sample
    if trace is not None:
        if not 0 <= k < trace.hidden.shape[0]:
            raise _Fail(f"--layer must be between 0 and {trace.hidden.shape[0] - 1}")
        if not 0 <= b < trace.batch_size:
            from rnnviz.app.panel_model import kept_text

            kept = kept_text(trace)  # --sample counts the samples the trace kept
            raise _Fail(f"--sample must be between 0 and {trace.batch_size - 1}" + (f" ({kept})" if kept else ""))
    done = []
    if args.png or args.svg:
        scene = figures.figure(trace, panels, size, history=history or None, k=k, sample=b)
        if args.png:
            done.append(figures.write_png(args.png, scene, args.scale))
        if args.svg:
            done.append(figures.write_svg(args.svg, scene, args.scale))
    for target in (args.gif, args.mp4):
        if not target:
            continue
        animation = args.animate or ("training" if len(traces) >= 2 else "forward")
        done.append(gif.write_animation(target, animation, trace, traces=traces, history=history, panels=panels,
                                        size=size, scale=args.scale, fps=args.fps, frames=args.frames, k=k,
                                        sample=b))
    if args.csv:
        done.append(arrays.write_series_csv(args.csv, trace))
    if args.json:
        done.append(arrays.write_series_json(args.json, trace))
    if args.npz:
        done.append(arrays.write_trace_npz(args.npz, trace))
    if args.history_csv:
        if not history:
            raise _Fail(f"{args.source} has no training history (only a session from training has one)")
        done.append(arrays.write_history_csv(args.history_csv, history))
    if not args.quiet:
        for p in done:
            print(f"wrote {p}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``rnnviz export`` on its own: ``main(["run.npz", "--png", "fig.png"])``."""
    parser = argparse.ArgumentParser(prog="rnnviz export",
                                     description="Export figures, animations and data of a trace or session.")
    _arguments(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed its usage message
        return int(exc.code or 0)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
