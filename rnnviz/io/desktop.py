"""A start-menu entry for rnnviz: ``python -m rnnviz.io.desktop`` (Linux desktops, XDG).

Writes ``rnnviz.desktop`` into ``$XDG_DATA_HOME/applications`` (default ``~/.local/share``) and
the icon into ``icons/hicolor/256x256/apps``, pointing at the ``rnnviz-gui`` launcher that
pip / pipx / ``uv tool install`` put next to this Python (or on PATH). ``--uninstall`` removes
both. The same entry is checked in as ``assets/rnnviz.desktop``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from importlib import resources
from pathlib import Path

from rnnviz.core.trace import atomic_write

ENTRY = """[Desktop Entry]
Type=Application
Name=rnnviz
GenericName=Recurrent network visualiser
Comment=See how recurrent neural networks work: unrolled graphs, hidden states, gates and gradients
Exec={exec}
Icon=rnnviz
Terminal=false
Categories=Education;Science;
Keywords=RNN;LSTM;GRU;neural network;deep learning;BPTT;
StartupWMClass=rnnviz
"""


def launcher() -> str:
    """The ``rnnviz-gui`` beside this interpreter, else on PATH, else ``python -m rnnviz``."""
    here = Path(sys.executable).with_name("rnnviz-gui")
    if here.exists():
        return str(here)
    found = shutil.which("rnnviz-gui")
    return found or f"{sys.executable} -m rnnviz"


def entry_text(exec_line: str = "rnnviz-gui") -> str:
    """The .desktop file's text for ``exec_line``."""
    return ENTRY.format(exec=exec_line)


def data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def paths() -> tuple[Path, Path]:
    """Where the desktop entry and the icon go."""
    base = data_home()
    return base / "applications" / "rnnviz.desktop", base / "icons" / "hicolor" / "256x256" / "apps" / "rnnviz.png"


def install(exec_line: str | None = None) -> list[Path]:
    """Write the desktop entry and icon; returns the two paths."""
    desktop, icon = paths()
    for folder in (desktop.parent, icon.parent):
        folder.mkdir(parents=True, exist_ok=True)
    text = entry_text(exec_line or launcher())
    atomic_write(desktop, lambda f: f.write(text.encode("utf-8")))
    png = resources.files("rnnviz").joinpath("data/rnnviz.png").read_bytes()
    atomic_write(icon, lambda f: f.write(png))
    return [desktop, icon]


def uninstall() -> list[Path]:
    """Remove what :func:`install` wrote; returns the paths removed."""
    gone = []
    for path in paths():
        if path.exists():
            path.unlink()
            gone.append(path)
    return gone


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rnnviz.io.desktop",
                                     description="Add rnnviz to the start menu (XDG desktops).")
    parser.add_argument("--uninstall", action="store_true", help="remove the start-menu entry")
    args = parser.parse_args(argv)
    paths = uninstall() if args.uninstall else install()
    for path in paths:
        print(("removed " if args.uninstall else "wrote ") + str(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
