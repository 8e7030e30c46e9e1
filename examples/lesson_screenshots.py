"""Render every lesson's window, normal and presentation, at several window sizes.

    xvfb-run -a -s "-screen 0 1920x1080x24" env QT_QPA_PLATFORM=xcb \\
        python examples/lesson_screenshots.py --out out/lessons

Each lesson is opened the way ``rnnviz --lesson NAME --screenshot`` opens it (its action run to
the end, so the picture shows the lesson's point), resized to each ``--size`` and grabbed, then
switched to presentation mode and grabbed again: ``NAME_WxH.png`` and ``NAME_WxH_present.png``.
``--readme DIR`` also writes the README's lesson pictures (1280×720, normal) into DIR, shrunk.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _settle(app, rounds: int = 8) -> None:
    for _ in range(rounds):
        app.processEvents()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out/lessons")
    ap.add_argument("--only", nargs="*", help="lesson names (default: all built-in lessons)")
    ap.add_argument("--size", nargs="*", default=["1280x720", "1920x1080"], help="WxH window sizes")
    ap.add_argument("--no-present", action="store_true", help="skip the presentation-mode pictures")
    ap.add_argument("--readme", help="also write the README's pictures (1280x720, scaled to 960 px) here")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.size]

    from PIL import Image

    from rnnviz.app.lessons import list_lessons, load_lesson
    from rnnviz.qt.app import build_window, get_app
    from rnnviz.qt.presentation import apply_presentation

    app = get_app()
    names = args.only or [lesson.name for lesson in list_lessons()]
    for name in names:
        lesson = load_lesson(name)
        window = build_window(lesson.config, lesson, record=True, warm_up=False)
        window.setProperty("rnnviz_screenshot", True)  # presentation mode stays windowed
        window.lesson_controller.run_sync(lesson)
        window.show()
        for present in (False, True):
            if present and args.no_present:
                continue
            apply_presentation(window, present)
            for w, h in sizes:
                window.resize(w, h)
                _settle(app)
                path = out / f"{name}_{w}x{h}{'_present' if present else ''}.png"
                window.grab().save(str(path))
                Image.open(path).convert("RGB").save(path, optimize=True)
                print(path)
                if args.readme and not present and (w, h) == (1280, 720):
                    readme = Path(args.readme)
                    readme.mkdir(parents=True, exist_ok=True)
                    img = Image.open(path).convert("RGB")
                    img = img.resize((960, round(960 * img.height / img.width)), Image.LANCZOS)
                    img.save(readme / f"{name}.png", optimize=True)
        apply_presentation(window, False)
        window.shutdown()
        window.close()
        window.deleteLater()
        _settle(app, 3)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
