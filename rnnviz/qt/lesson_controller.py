"""The lessons controller: shows a lesson in the window and runs its suggested action.

:class:`LessonController` connects a :class:`~rnnviz.qt.lesson_browser.LessonBrowser` to the
window. Public API: :meth:`choose` (a lesson's start: its config, recorded, its telling tab,
t = 0), :meth:`reset`, :meth:`run` (the action in the background, F6), :meth:`run_sync`
(the same on this thread: ``--lesson … --screenshot``, tests), :meth:`install_results`,
:meth:`open_file_dialog`.
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QObject

from rnnviz.app.lesson_run import LessonResult, classify, run_action
from rnnviz.app.lessons import Lesson, LessonError, load_lesson
from rnnviz.app.state import CompareRun
from rnnviz.core.tasks import tokenize


def telling_panel(lesson: Lesson, views, started: bool = True) -> str | None:
    """The lesson's most telling tab: its first listed panel the window has (the graph is always
    shown). Before its action has run (``started=False``) nothing is trained yet, so the training
    tab would be empty ("No training yet"): the next listed panel is shown instead."""
    panels = [p for p in lesson.panels if p != "graph" and p in views and (started or p != "training")]
    return panels[0] if panels else None


def set_telling_cursor(state, lesson: Lesson) -> None:
    """Put the cursor where the lesson's panels show the whole story: a gradient lesson at the end
    of BPTT (t = 0, every step's gradient drawn), every other at the end of the forward pass."""
    T = state.seq_len
    if not T:
        return
    state.playing = False
    if "gradients" in lesson.panels:
        state.set_position(2 * T - 1)
    else:
        state.set_position(T - 1)


def results_text(lesson: Lesson, result: LessonResult) -> str:
    """Text for the predictions view's text box: samples, or the lesson's test sentences classified."""
    if result.samples:
        lines = [f"Sampled after {result.steps} training steps, "
                 f"primed with {lesson.action.get('prime', '')!r}:"]
        lines += [f"temperature {t:g}:  {' '.join(str(text).split())}" for t, text in result.samples.items()]
        return "\n".join(lines)
    sentences = lesson.check.get("sentences")
    probe = result.probe
    if sentences and probe.shape == "many-to-one" and probe.vocab:
        classes = (probe.meta or {}).get("classes") or [str(i) for i in range(probe.output_size)]
        lines = [f"After {result.steps} training steps the RNN reads the notes' sentences:"]
        for sentence in sentences:
            try:
                p = classify(result.model, tokenize(sentence.lower()), probe.vocab)
            except LessonError:
                continue
            best = max(range(len(p)), key=p.__getitem__)
            lines.append(f"{sentence}  →  {classes[best]} (p = {p[best]:.2f})")
        return "\n".join(lines) if len(lines) > 1 else ""
    return ""


def _compared(lesson: Lesson, result: LessonResult) -> list[CompareRun]:
    """The compared runs, the one ``[check] compare`` names first (the window's main contrast)."""
    runs = [CompareRun(r.label or "compare", r.trace, list(r.history)) for r in result.compared]
    named = lesson.check.get("compare")
    return sorted(runs, key=lambda r: r.label != named)


class LessonController(QObject):
    """Lessons in the window: ``browser`` (the dock's widget) → state, views, runs."""

    def __init__(self, window, browser):
        super().__init__(window)
        self.window = window
        self.state = window.state
        self.browser = browser
        browser.lesson_chosen.connect(self.choose)
        browser.reset_requested.connect(self.reset)
        browser.run_requested.connect(self.run)
        self.state.events.subscribe("lesson", self._on_lesson)
        if self.state.lesson:
            self._on_lesson(self.state.lesson)

    @property
    def current(self) -> Lesson | None:
        """The lesson selected in the browser, with its chosen variant's config."""
        lesson = self.browser.current
        return lesson.variant(self.browser.variant) if lesson is not None else None

    # ------------------------------------------------------------------ the lesson's start
    def choose(self, lesson: Lesson, variant: int = 0) -> None:
        """Show ``lesson`` (variant ``variant``): its config (recorded), its first panel, t = 0."""
        state, window = self.state, self.window
        cfg = lesson.variant(variant).config if lesson.variants else lesson.config
        window.training_controller.stop()
        state.compare_runs = []
        state.history = []
        state.lesson = lesson.name
        state.config = cfg  # a new run: the training controller records it
        state.dirty = False  # the session is exactly the lesson's start: nothing unsaved
        state.playing = False
        state.jump_start()
        panel = telling_panel(lesson, window.views, started=False)
        if panel is not None:
            window.show_view(panel)
        state.status = f"lesson {lesson.order}: {lesson.title}" if lesson.builtin else f"lesson: {lesson.title}"

    def reset(self) -> None:
        """Back to the start of the selected lesson."""
        if self.browser.current is not None:
            self.choose(self.browser.current, self.browser.variant)

    def _on_lesson(self, name) -> None:
        browser = self.browser
        if name and (browser.current is None or browser.current.name != name):
            if not browser.select(name):
                try:
                    lesson = load_lesson(name)
                except LessonError:
                    return
                browser.add_lesson(lesson, emit=False)

    def open_file_dialog(self) -> None:
        """Ask for a lesson file and choose it."""
        self.browser.open_file_dialog()

    # ------------------------------------------------------------------ the lesson's action
    def _with_window_config(self, lesson: Lesson) -> Lesson:
        """``lesson`` with the window's config (e.g. a chosen variant, or a --config given beside it)."""
        cfg = self.state.config
        return lesson if cfg == lesson.config else dataclasses.replace(lesson, config=cfg)

    def run(self, lesson: Lesson | None = None) -> bool:
        """Run the lesson's suggested action (record / train / compare / sample) in the
        background; :meth:`install_results` shows what it produced unless the user moved on."""
        lesson = lesson if lesson is not None else self.current
        if lesson is None:
            return False
        lesson = self._with_window_config(lesson)
        action = lesson.action
        verb = {"record": "recording", "compare": "training and comparing"}.get(action["kind"], "training")
        self.window.training_controller.run_job(lambda: run_action(lesson),
                                                lambda result: self.install_results(lesson, result),
                                                "running the lesson…")
        self.state.status = f"lesson {lesson.name}: {verb} ({action.get('steps', 0)} steps)…"
        return True

    def run_sync(self, lesson: Lesson | None = None) -> LessonResult:
        """Run the lesson's action on this thread and install its results (screenshots, tests)."""
        lesson = self._with_window_config(lesson if lesson is not None else self.current)
        result = run_action(lesson)
        self.install_results(lesson, result, wait=True)
        return result

    def install_results(self, lesson: Lesson, result: LessonResult, wait: bool = False) -> None:
        """Install what the action produced: the trained model and trace, the loss history, the
        compared runs, sampled text (or the lesson's sentences classified) and a ball's
        extrapolation in the predictions view; then the lesson's telling tab and cursor, and for
        a fixed-point lesson the search in the Dynamics panel (``wait``: finished on return)."""
        state, window = self.state, self.window
        classes = (result.probe.meta or {}).get("classes")
        for run in result.runs:
            for tr in (run.trace, run.initial_trace):  # name the classes ("negative", not "0") and the run
                if classes:
                    tr.meta.setdefault("classes", list(classes))
                if run.label:
                    tr.meta.setdefault("label", str(run.label))
        # [check] trace = "initial": the lesson's point is in the untrained run (e.g. exploding
        # gradients before training blows the weights up); its training shows in the loss curves
        initial = lesson.check.get("trace") == "initial"
        window.training_controller.install(result.main, trace=result.initial_trace if initial else result.trace,
                                           compare=_compared(lesson, result), status="")
        predictions = window.views["predictions"] if "predictions" in window.views else None
        if predictions is not None:
            predictions.set_sampled_text(results_text(lesson, result))
            ex = result.extrapolation
            if ex is not None and not initial:
                # predicted[i] continues from the warm-up: it is the position at target step warmup - 1 + i
                start = int(ex.warmup) - 1
                predictions.set_extrapolation(ex.true[start:start + len(ex.predicted)], ex.predicted, start=start)
            else:
                predictions.set_extrapolation(None, None)
        panel = telling_panel(lesson, window.views)
        if panel is not None:
            window.show_view(panel)
        set_telling_cursor(state, lesson)
        if lesson.check.get("kind") == "fixed_points" and "dynamics" in window.views:
            # the lesson's point is the memories: find them (``wait``: before a screenshot is taken)
            window.views["dynamics"].show_lesson_point(lesson.check, wait=wait)
        kind, steps = result.kind, result.steps
        done = {"record": "recorded", "train": f"trained {steps} steps", "sample": f"trained {steps} steps, sampled",
                "compare": f"compared ({steps} steps each)"}.get(kind, kind)
        history = state.history
        loss = f" · loss {history[-1]['loss']:.4g}" if history else ""
        vs = f" vs {', '.join(r.label for r in state.compare_runs)}" if state.compare_runs else ""
        state.status = f"lesson {lesson.order}: {done}{loss}{vs}" if lesson.builtin else f"lesson: {done}{loss}{vs}"


__all__ = ["LessonController", "results_text", "set_telling_cursor", "telling_panel"]
