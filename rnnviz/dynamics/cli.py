"""``rnnviz dynamics``: the dynamics of a run, headless — an .npz of numbers and a figure.

    rnnviz dynamics --config run.toml --steps 300 -o out.npz --png fig.png
    rnnviz dynamics --task flipflop --cell gru --hidden-size 24 --seq-len 100 --steps 300 -o ff.npz --png ff.png

The run flags are ``rnnviz trace``'s; ``--weights`` starts from a ``weights.pt`` written by
``rnnviz train``. Bad input is a one-line ``rnnviz: ...`` message (the main CLI's contract).
"""

from __future__ import annotations

from pathlib import Path


def add_parser(sub, add_run_flags) -> None:
    """Add the ``dynamics`` subcommand to the main parser's subparsers."""
    p = sub.add_parser("dynamics", help="fixed points, Jacobians, Lyapunov exponents and memory reach, headless",
                       description="Build (and optionally train) the model of a run config, then find its "
                       "fixed points under zero input, the Jacobians along the probe batch with the BPTT "
                       "gradient beside them, the Lyapunov exponents of the autonomous network and the "
                       "connectivity matrix. Writes an .npz (no pickle) and, with --png, a figure.")
    add_run_flags(p, out_help="report file to write (default: dynamics.npz)",
                  steps_help="train this many steps first (default 0: the initial weights)")
    p.add_argument("--weights", metavar="FILE.pt", help="start from weights.pt written by 'rnnviz train'")
    p.add_argument("--png", metavar="FILE", help="also draw the figure (.png or .svg)")
    p.add_argument("--sweep", metavar="FILE",
                   help="also sweep the gain of W_hh (15 gains, 0.5 to 2, random networks of this run's cell and "
                        "size): the largest Lyapunov exponent and, on the same gain axis, the gradient's reach "
                        "over 100 steps; a figure (.png or .svg), its numbers go into the .npz")
    p.add_argument("--starts", type=int, default=256, metavar="N", help="fixed-point search starts (default 256)")
    p.set_defaults(func=cmd_dynamics)


def cmd_dynamics(args) -> int:
    """Run the analysis and write the report (and figure)."""
    from rnnviz import cli
    from rnnviz.core.train import Trainer
    from rnnviz.dynamics.figure import report_scene
    from rnnviz.dynamics.report import analyse
    from rnnviz.export.figures import save_figure

    cli.configure_numerics(args.threads)
    cfg = cli.config_from_args(args)
    out = Path(args.output or "dynamics.npz")
    if out.suffix != ".npz":
        out = out.with_name(out.name + ".npz")
    cli._writable_folder(out.parent if str(out.parent) else Path("."))
    if out.is_dir():
        raise cli.UsageError(f"cannot write output: {out} is a folder")
    png = Path(args.png) if args.png else None
    if png is not None:
        if png.suffix.lower() not in (".png", ".svg"):
            raise cli.UsageError(f"--png {png.name}: the figure must end in .png or .svg")
        cli._writable_folder(png.parent if str(png.parent) else Path("."))
    sweep_fig = Path(args.sweep) if args.sweep else None
    if sweep_fig is not None:
        if sweep_fig.suffix.lower() not in (".png", ".svg"):
            raise cli.UsageError(f"--sweep {sweep_fig.name}: the figure must end in .png or .svg")
        cli._writable_folder(sweep_fig.parent if str(sweep_fig.parent) else Path("."))
    if not 1 <= args.starts <= 100_000:
        raise cli.UsageError(f"--starts {args.starts} is out of range [1, 100000]")
    model, probe = cli._build(cfg)
    if args.weights:
        _load_weights(model, Path(args.weights), cli.UsageError)
    if args.steps:
        Trainer(model, cfg.task, cfg.train).run(args.steps)
    report = analyse(model, probe, n_starts=args.starts, seed=cfg.seed)
    if sweep_fig is not None:
        from rnnviz.dynamics.lyapunov import lyapunov_sweep

        report.sweep = lyapunov_sweep(hidden_size=cfg.model.hidden_size, cell=cfg.model.cell, seed=cfg.seed)
    report.save_npz(out)
    where = str(out)
    if png is not None:
        save_figure(png, report_scene(report))
        where += f", {png}"
    if sweep_fig is not None:
        from rnnviz.dynamics.figure import sweep_scene

        save_figure(sweep_fig, sweep_scene(report.sweep))
        where += f", {sweep_fig}"
    print(f"{report.summary()} -> {where}")
    return cli.EXIT_OK


def _load_weights(model, path: Path, error) -> None:
    import torch

    if not path.is_file():
        raise error(f"--weights {path}: no such file")
    try:
        state = torch.load(path, map_location=model.device, weights_only=True)
        model.load_state_dict(state)
    except Exception as exc:  # a foreign or damaged file: torch raises many kinds; the user needs one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise error(f"--weights {path.name} does not fit this model ({first})") from None
