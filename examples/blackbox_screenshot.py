"""Screenshot lesson 10 ("Opening the black box") on its Dynamics panel, normal and presentation.

    xvfb-run -a -s "-screen 0 1920x1080x24" env QT_QPA_PLATFORM=xcb \\
        python examples/blackbox_screenshot.py --out assets

Runs the lesson's training to the end, presses "Find fixed points" (and waits for the worker),
selects a saddle so its eigenvalues show, and grabs the window: ``blackbox.png`` and
``blackbox_present.png``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out")
    ap.add_argument("--size", default="1600x1000")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    w, h = (int(v) for v in args.size.lower().split("x"))

    from rnnviz.app.lessons import load_lesson
    from rnnviz.qt.app import build_window, get_app
    from rnnviz.qt.presentation import apply_presentation

    app = get_app()
    lesson = load_lesson("blackbox")
    window = build_window(lesson.config, lesson, record=True, warm_up=False)
    window.setProperty("rnnviz_screenshot", True)
    window.lesson_controller.run_sync(lesson)
    window.show()
    window.show_view("dynamics")
    view = window.views["dynamics"]
    view.analyse(wait=True)
    saddles = [i for i, k in enumerate(view.result.fixed.kinds) if k == "saddle"] if view.result else []
    if saddles:
        view.select_point(saddles[0])
    print(view.status.text())
    for present in (False, True):
        apply_presentation(window, present)
        window.resize(w, h)
        for _ in range(8):
            app.processEvents()
        path = out / f"blackbox{'_present' if present else ''}.png"
        window.grab().save(str(path))
        print(path)
    apply_presentation(window, False)
    window.shutdown()
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
