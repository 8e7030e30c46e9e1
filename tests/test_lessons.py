"""The built-in lessons: each loads, runs its suggested action headless, and shows its point in numbers."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch

from rnnviz.app.lesson_run import classify, run_action
from rnnviz.app.lessons import (
    PANELS,
    Lesson,
    LessonError,
    list_lessons,
    load_lesson,
    neighbour,
    parse_lesson,
)
from rnnviz.core.graph import graph_summary
from rnnviz.core.tasks import bag_of_words, tokenize

NAMES = ["order", "recurrence", "exploding", "vanishing", "lstm", "gru", "charlm", "architectures", "ball",
         "blackbox"]


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_every_builtin_lesson_loads_fast_in_order():
    t = time.perf_counter()
    lessons = list_lessons(user_dirs=[])
    assert time.perf_counter() - t < 2.0
    assert [le.name for le in lessons] == NAMES
    assert [le.order for le in lessons] == list(range(1, 11))
    for le in lessons:
        assert isinstance(le, Lesson) and le.builtin
        assert le.title and le.description and "\n" not in le.description
        assert len(le.text) > 200 and le.panels and set(le.panels) <= set(PANELS)
        assert le.action["kind"] in ("record", "train", "compare", "sample")
        assert load_lesson(le.name).config == le.config


def test_lesson1_bag_of_words_equal_but_trained_rnn_tells_order():
    lesson = load_lesson("order")
    out = run_action(lesson)
    vocab = out.probe.vocab
    toks = [tokenize(s.lower()) for s in lesson.check["sentences"]]
    assert toks[0] != toks[1]
    assert np.array_equal(bag_of_words(toks[0], vocab), bag_of_words(toks[1], vocab))
    good, bad = (classify(out.model, t, vocab) for t in toks)
    assert good[1] > 0.9 and bad[0] > 0.9  # class 1 = positive, class 0 = negative
    assert out.history[-1]["loss"] < 0.1 * out.history[0]["loss"]


def test_lesson2_hidden_states_differ_while_weights_are_shared():
    lesson = load_lesson("recurrence")
    out = run_action(lesson)
    tr, model = out.trace, out.model
    assert tr.meta["tokens"] == ["I", "love", "recurrent", "neural"]
    h = tr.hidden[0, :, 0]  # (T, H)
    for a in range(len(h)):
        for b in range(a + 1, len(h)):
            assert np.abs(h[a] - h[b]).max() > 1e-2
    # one W_xh / W_hh reproduces every step: h_t = tanh(W_hh h_{t-1} + W_xh x_t + b)
    W_xh, W_hh, b_xh, b_hh = (p.detach().numpy() for p in model.layer_weights(0, 0))
    prev = np.zeros(h.shape[1], np.float32)
    for t in range(len(h)):
        pred = np.tanh(W_hh @ prev + W_xh @ tr.inputs[t, 0] + b_xh + b_hh)
        np.testing.assert_allclose(pred, h[t], atol=1e-5)
        prev = h[t]
    assert sum(1 for n, _ in model.rnn.named_parameters() if n.startswith("weight_hh")) == 1
    vocab = tr.meta["vocab"]
    assert vocab[int(np.argmax(tr.outputs[-1, 0]))] == lesson.check["expect_next"] == "networks"


def test_lesson3_exploding_gradients_clipped_updates_and_recovery():
    lesson = load_lesson("exploding")
    out = run_action(lesson)
    g = out.initial_trace.grad_hidden_norm[0]
    assert g[0] > 100 * g[-1]  # the gradient grows toward the past
    clip = lesson.config.train.clip_norm
    plain, clipped = out.runs
    assert max(r["grad_norm"] for r in plain.history) > 100 * clip
    assert not all(r["applied"] for r in plain.history) or not math.isfinite(plain.trace.loss)
    assert not math.isfinite(plain.trace.loss) or plain.trace.loss > 1e3
    assert clipped.config.train.clip == "norm"
    assert all(r["applied"] for r in clipped.history)
    assert sum(r["clipped"] for r in clipped.history) > 10
    assert clipped.trace.loss < 0.5 * clipped.initial_trace.loss
    # every applied update has norm <= lr * clip_norm (plain SGD: delta = -lr * clipped grad)
    trainer, lr = clipped.trainer, clipped.config.train.lr
    deltas = []

    def flat():
        return torch.cat([p.detach().reshape(-1).clone() for p in trainer.model.parameters()])

    before = [flat()]

    def on_step(event, payload):
        if event == "step":
            now = flat()
            deltas.append((float((now - before[0]).norm()), payload["grad_norm"]))
            before[0] = now

    trainer.callbacks.append(on_step)
    trainer.run(10)
    assert len(deltas) == 10
    for d, pre in deltas:
        assert d <= lr * clip * (1 + 1e-3)
        if pre > clip:
            assert d == pytest.approx(lr * clip, rel=1e-3)


def test_lesson4_vanishing_gradient_tanh_vs_irnn_vs_lstm():
    lesson = load_lesson("vanishing")
    out = run_action(lesson)
    first = {r.label: float(r.trace.grad_hidden_norm[0, 0]) for r in out.runs}
    last = {r.label: float(r.trace.grad_hidden_norm[0, -1]) for r in out.runs}
    tanh, ident, irnn, lstm = first.values()
    assert lesson.config.task.seq_len >= 100
    assert irnn > 100 * tanh and irnn > 1e6 * tanh  # orders of magnitude
    assert lstm > 100 * tanh
    assert ident > 100 * tanh
    tanh_label = next(iter(first))
    assert first[tanh_label] < 1e-6 * last[tanh_label]  # vanishes toward the past


def test_lesson5_forget_bias_raises_the_forget_gate():
    out = run_action(load_lesson("lstm"))
    fb0, fb1 = out.runs
    assert fb0.config.model.forget_bias == 0.0 and fb1.config.model.forget_bias == 1.0
    for key in ("initial_trace", "trace"):
        assert getattr(fb1, key).gates["f"].mean() > getattr(fb0, key).gates["f"].mean() + 0.02
    assert set(fb0.trace.gates) == {"i", "f", "g", "o"}
    for run in (fb0, fb1):
        assert run.trace.loss < 0.2 * run.initial_trace.loss


def test_lesson6_gru_vs_lstm():
    out = run_action(load_lesson("gru"))
    gru, lstm = out.runs
    assert set(gru.trace.gates) == {"r", "z", "n"} and set(lstm.trace.gates) == {"i", "f", "g", "o"}
    for run in (gru, lstm):
        assert run.trace.loss < 0.2 * run.initial_trace.loss

    def recurrent(model):
        return sum(p.numel() for n, p in model.rnn.named_parameters() if "weight" in n)

    assert recurrent(gru.model) * 4 == recurrent(lstm.model) * 3


def test_lesson7_char_lm_samples_from_vocab_and_loss_decreases():
    out = run_action(load_lesson("charlm"))
    vocab = set(out.probe.vocab)
    assert out.trace.loss < 0.5 * out.initial_trace.loss
    assert len(out.samples) == 3
    for text in out.samples.values():
        new = text[len("The "):]
        assert len(new) == 160 and set(new) <= vocab
    assert out.sample == out.samples[0.3]


def test_lesson8_architectures_graph_node_counts():
    lesson = load_lesson("architectures")
    out = run_action(lesson)
    counts = {label: graph_summary(g)["kinds"] for label, g in out.graphs.items()}
    assert len(counts) == 7
    one, otm, mto, mtm, enc, bi, deep = counts.values()
    assert (one["x"], one["h"], one["y"]) == (1, 1, 1)
    assert otm["x"] == 1 and otm["h"] == otm["y"] == 6
    assert mto["y"] == 1 and mto["x"] == mto["h"] > 5
    assert mtm["x"] == mtm["h"] == mtm["y"] > 5
    assert enc["x"] == 4 and enc["y"] == 4 and enc["h"] == 8
    assert bi["h"] == 2 * mtm["h"] and bi["y"] == mtm["y"]
    assert deep["h"] == 3 * mtm["h"] and deep["x"] == mtm["x"]
    assert out.variant_traces["bidirectional (name tagging)"].hidden.shape[0] == 2
    assert out.variant_traces["deep, 3 layers (name tagging)"].hidden.shape[0] == 3
    assert lesson.variant(4).config.task.name == "reverse"


def test_lesson9_ball_trajectory_fitted_and_extrapolated():
    out = run_action(load_lesson("ball"))
    probe = out.probe
    naive = float(((probe.x - probe.y) ** 2).mean())  # "the ball stays where it is"
    assert out.trace.loss < 0.01 * out.initial_trace.loss
    assert out.trace.loss < 0.5 * naive
    ex = out.extrapolation
    k = ex.predicted.shape[0]
    true = ex.true[ex.warmup - 1: ex.warmup - 1 + k]
    err = float(np.abs(ex.predicted - true).mean())
    assert err < 0.1  # the closed loop stays on the arc for 10 steps


# --------------------------------------------------------------------------- files and errors

GOOD = """name = "mine"
title = "My lesson"
description = "A copy"
order = 3
text = "Look here."
panels = ["hidden"]

[config]
cell = "gru"
hidden_size = 8

[config.task]
name = "adding"
seq_len = 10

[action]
kind = "record"
"""


def test_user_lesson_listed_and_loaded_by_path(tmp_path, monkeypatch):
    (tmp_path / "mine.toml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "broken.toml").write_text("name = \n", encoding="utf-8")
    errors = []
    lessons = list_lessons(user_dirs=[tmp_path], errors=errors)
    assert [le.name for le in lessons][:len(NAMES)] == NAMES and lessons[-1].name == "mine"
    assert not lessons[-1].builtin
    assert len(errors) == 1 and "broken.toml" in str(errors[0]) and errors[0].line == 1
    monkeypatch.setenv("RNNVIZ_LESSONS_DIR", str(tmp_path))
    assert list_lessons()[-1].name == "mine"
    assert load_lesson("mine").config.model.cell == "gru"
    lesson = load_lesson(tmp_path / "mine.toml")
    out = run_action(lesson)
    assert out.trace.hidden.shape[:2] == (1, 10) and out.history == []
    assert neighbour(lessons, NAMES[-1], 1).name == "mine" and neighbour(lessons, "order", -1) is None


def test_builtin_lesson_file_copied_and_edited_loads(tmp_path):
    from rnnviz.app.lessons import builtin_dir

    text = builtin_dir().joinpath("exploding.toml").read_text(encoding="utf-8")
    path = tmp_path / "exploding2.toml"
    path.write_text(text.replace('name = "exploding"', 'name = "exploding2"').replace("steps = 150", "steps = 3"))
    lesson = load_lesson(str(path))
    assert lesson.name == "exploding2" and lesson.action["steps"] == 3 and lesson.path == path


@pytest.mark.parametrize("edit, line, words", [
    (lambda t: t.replace('title = "My lesson"', 'title = "My lesson'), 2, "malformed TOML"),
    (lambda t: t.replace("hidden_size = 8", "hidden_size = 8\ncolour = 'red'"), 11, "colour"),
    (lambda t: t.replace('cell = "gru"', 'cell = "gruu"'), 9, "cell"),
    (lambda t: t.replace("seq_len = 10", "seq_len = -3"), 14, "seq_len"),
    (lambda t: t.replace('name = "adding"', 'name = "addition"'), 13, "addition"),
    (lambda t: t.replace('kind = "record"', 'kind = "dance"'), 17, "dance"),
    (lambda t: t.replace('panels = ["hidden"]', 'panels = ["hiden"]'), 6, "hiden"),
    (lambda t: t.replace('order = 3', 'order = 3\nauthor = "me"'), 5, "author"),
    (lambda t: t + "steps = -1\n", 18, "steps"),
    (lambda t: t + "[action.compare]\nlr = 0\n", 19, "lr"),
])
def test_malformed_lesson_names_file_and_line(tmp_path, edit, line, words):
    path = tmp_path / "bad.toml"
    path.write_text(edit(GOOD), encoding="utf-8")
    with pytest.raises(LessonError) as info:
        load_lesson(path)
    msg = str(info.value)
    assert str(path) in msg and f"line {line}" in msg and words in msg
    assert info.value.line == line and "Traceback" not in msg


def test_unknown_name_and_missing_file():
    with pytest.raises(LessonError, match="no lesson called 'nope'.*exploding"):
        load_lesson("nope")
    with pytest.raises(LessonError, match="not found"):
        load_lesson("/nonexistent/x.toml")
    with pytest.raises(LessonError, match="missing required key 'config'"):
        parse_lesson('name = "x"\ntitle = "t"\n[action]\nkind = "record"\n')
