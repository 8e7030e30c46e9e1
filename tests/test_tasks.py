"""Tests of the toy tasks: layouts, determinism and that each task asks what it claims."""

import numpy as np
import pytest
import torch

from rnnviz.core.tasks import (
    SENTIMENT_NOTES,
    TASKS,
    TaskBatch,
    adding_problem,
    agreement,
    bag_of_words,
    char_lm,
    copy_task,
    make_task,
    name_tagging,
    one_to_many_melody,
    reverse_sequence,
    sentiment,
    tokenize,
    trajectory,
    word_lm,
)

NAMES = ["adding", "copy", "char_lm", "word_lm", "sentiment", "agreement", "trajectory",
         "tagging", "melody", "reverse", "flipflop", "sine"]
SHAPES = {"many-to-one", "many-to-many", "one-to-many", "encoder-decoder", "one-to-one"}


def check_layout(b: TaskBatch) -> None:
    """The TaskBatch contract of docs/ARCHITECTURE.md."""
    T, B, n_in = b.x.shape
    assert b.x.dtype == torch.float32
    assert (b.seq_len, b.batch_size, b.input_size) == (T, B, n_in)
    assert b.shape in SHAPES
    if b.loss == "ce":
        assert b.y.dtype == torch.int64
        assert tuple(b.y.shape) in {(B,), (T, B)}
        present = b.y[b.y != -100]
        assert present.numel() > 0
        assert int(present.min()) >= 0 and int(present.max()) < b.output_size
    else:
        assert b.loss in {"mse", "bce"}
        assert b.y.dtype == torch.float32
        assert tuple(b.y.shape) in {(B, b.output_size), (T, B, b.output_size)}
        assert (~torch.isnan(b.y)).any()
    assert b.tokens is not None and len(b.tokens) == T
    if b.vocab is not None:
        assert len(b.vocab) == n_in
        assert torch.all(b.x.sum(-1) <= 1)  # one-hot (or all zero)
    x, y = b
    assert x is b.x and y is b.y


@pytest.mark.parametrize("name", NAMES)
def test_every_task_with_defaults(name):
    b = make_task(name)
    check_layout(b)
    spec = TASKS[name]
    assert spec.name == name and b.name == name
    assert (b.loss, b.shape) == (spec.loss, spec.shape)
    assert spec.description


def test_registry_covers_all_names():
    assert sorted(TASKS) == sorted(NAMES)
    assert {n for n, s in TASKS.items() if s.uses_text} == {"char_lm", "word_lm"}


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_batch_other_seed_differs(name):
    seq = 4 if name == "word_lm" else None  # word_lm without seq_len is the fixed sentence
    a, b, c = (make_task(name, seed=s, batch_size=8, seq_len=seq) for s in (3, 3, 4))
    assert torch.equal(a.x, b.x)
    assert torch.equal(a.y, b.y) or torch.allclose(a.y, b.y, equal_nan=True)
    differs = not torch.equal(a.x, c.x) or not torch.allclose(
        a.y.float(), c.y.float(), equal_nan=True)
    assert differs


def test_tasks_leave_global_rng_alone():
    torch.manual_seed(123)
    np.random.seed(123)
    expected = torch.rand(3), np.random.rand(3)
    torch.manual_seed(123)
    np.random.seed(123)
    for name in NAMES:
        make_task(name)
    assert torch.equal(torch.rand(3), expected[0])
    assert np.array_equal(np.random.rand(3), expected[1])


def test_adding_markers_and_sum():
    b = adding_problem(seq_len=30, batch_size=64, seed=1)
    assert b.x.shape == (30, 64, 2) and b.y.shape == (64, 1)
    marks = b.x[:, :, 1]
    assert torch.all(marks.sum(0) == 2)
    assert torch.all(marks[:15].sum(0) == 1) and torch.all(marks[15:].sum(0) == 1)
    assert torch.allclose((b.x[:, :, 0] * marks).sum(0), b.y[:, 0])
    assert b.x[:, :, 0].min() >= 0 and b.x[:, :, 0].max() <= 1


def test_adding_constant_one_baseline_is_one_sixth():
    y = adding_problem(seq_len=20, batch_size=20000, seed=0).y
    assert abs(float(((y - 1.0) ** 2).mean()) - 1 / 6) < 0.01
    assert abs(float(y.var()) - 1 / 6) < 0.01


def test_copy_targets_are_the_copied_symbols():
    b = copy_task(seq_len=20, batch_size=10, seed=2, n_symbols=8, n_copy=5)
    symbols = b.x[:5].argmax(-1)  # (5, B)
    assert torch.equal(b.y[-5:], symbols)
    assert torch.all(b.y[:-5] == -100)
    assert b.vocab[-2:] == ["_", ":"] and b.output_size == 8
    assert torch.all(b.x[20 - 6].argmax(-1) == 9)  # the delimiter
    assert b.meta["targets"] == [b.vocab[i] for i in symbols[:, 0]]


def test_copy_too_short_raises():
    with pytest.raises(ValueError, match=r"seq_len >= 2\*n_copy\+1 = 11"):
        copy_task(seq_len=10, n_copy=5)
    copy_task(seq_len=11, n_copy=5)


def test_char_lm_y_is_x_shifted():
    b = char_lm(text="hello world, hello sea.", seq_len=10, batch_size=5, seed=0)
    assert b.vocab == sorted(set("hello world, hello sea."))
    ids = b.x.argmax(-1)  # (T, B)
    assert torch.equal(ids[1:], b.y[:-1])
    assert "".join(b.tokens) in "hello world, hello sea." * 2


def test_char_lm_default_corpus_and_short_text_cycles():
    b = char_lm()
    assert len(b.vocab) > 20 and "e" in b.vocab
    short = char_lm(text="abc", seq_len=10, batch_size=2)
    assert short.x.shape == (10, 2, 3)
    seq = "".join(short.tokens)
    assert seq in "abc" * 6
    assert torch.equal(short.x.argmax(-1)[1:], short.y[:-1])


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_text_raises(text):
    with pytest.raises(ValueError, match="text is empty"):
        char_lm(text=text)
    with pytest.raises(ValueError, match="text is empty"):
        word_lm(text=text)


def test_word_lm_the_notes_sentence():
    b = word_lm()
    words = tokenize("This morning I took my cat for a walk.")
    assert words[-2:] == ["walk", "."]
    assert b.tokens == words[:-1]
    assert [b.vocab[i] for i in b.y[:, 0]] == words[1:]
    assert b.x.shape == (len(words) - 1, 1, len(set(words)))
    windows = word_lm(seq_len=4, batch_size=3, seed=1)
    assert windows.x.shape[:2] == (4, 3)
    assert torch.equal(windows.x.argmax(-1)[1:], windows.y[:-1])


def test_sentiment_pairs_same_bag_of_words_opposite_labels():
    b = sentiment(batch_size=32, seed=5)
    sents = [s.split() for s in b.meta["sentences"]]
    idx = b.x.argmax(-1)  # (T, B)
    pad_id = b.vocab.index("<pad>")
    pairs = 0
    for i, j in enumerate(b.meta["partner"]):
        words = [b.vocab[k] for k in idx[:, i] if k != pad_id]
        assert words == sents[i]
        if j > i:
            pairs += 1
            assert np.array_equal(bag_of_words(sents[i], b.vocab), bag_of_words(sents[j], b.vocab))
            assert sents[i] != sents[j]
            assert int(b.y[i]) + int(b.y[j]) == 1
    assert pairs == 16
    assert b.output_size == 2 and set(b.y.tolist()) == {0, 1}
    assert b.meta["notes"] == SENTIMENT_NOTES


def test_sentiment_labels_follow_the_notes():
    b = sentiment(batch_size=200, seed=0)
    for s, label in zip(b.meta["sentences"], b.y.tolist(), strict=True):
        if s.startswith("the food was good , not bad"):
            assert label == 1
        if s.startswith("the food was bad , not good"):
            assert label == 0
    assert any(s.startswith("the food was good , not bad") for s in b.meta["sentences"])


def test_bag_of_words_counts():
    vocab = ["<pad>", "a", "b"]
    assert bag_of_words(["<pad>", "a", "b", "a", "zzz"], vocab).tolist() == [0, 2, 1]


def test_agreement_label_matches_noun_and_gaps():
    b = agreement(batch_size=64, seed=3, min_gap=2, max_gap=8)
    idx = b.x.argmax(-1)  # (T, B)
    gaps = b.meta["gaps"]
    assert min(gaps) >= 2 and max(gaps) <= 8 and len(set(gaps)) > 1
    for i in range(64):
        noun = b.vocab[idx[b.meta["noun_pos"][i], i]]
        assert noun.endswith("s") == bool(b.y[i])
        assert b.meta["sentences"][i].split()[-3] == ("were" if noun.endswith("s") else "was")
        words = [b.vocab[k] for k in idx[:, i] if b.vocab[k] != "<pad>"]
        assert len(words) == 2 + gaps[i] + 2  # the noun , <gap words> ,
        assert words[-1] == ","  # x stops right before the verb
    assert set(b.y.tolist()) == {0, 1}


def test_agreement_seq_len_sets_length():
    for T in (2, 3, 4, 5, 12, 40):
        b = agreement(seq_len=T, batch_size=4)
        assert b.seq_len == T
    with pytest.raises(ValueError, match="seq_len >= 2"):
        agreement(seq_len=1)
    with pytest.raises(ValueError, match="min_gap"):
        agreement(min_gap=5, max_gap=3)


@pytest.mark.parametrize("kind", ["ball", "sine"])
def test_trajectory_y_is_next_position(kind):
    b = trajectory(seq_len=40, batch_size=6, seed=0, kind=kind)
    assert b.x.shape == (40, 6, 2) and b.y.shape == (40, 6, 2)
    assert torch.equal(b.x[1:], b.y[:-1])
    if kind == "ball":
        assert b.x.min() >= 0 and b.x.max() <= 1
        assert (b.x[1:, :, 1] - b.x[:-1, :, 1]).min() < 0  # it falls
    with pytest.raises(ValueError, match="kind"):
        trajectory(kind="comet")


def test_name_tagging_harry_potter():
    b = name_tagging(batch_size=6, seed=0)
    sents = b.meta["sentences"]
    i = 0  # the notes' example is always sample 0
    assert sents[0].startswith("Harry Potter and Hermione Granger")
    assert b.tokens[:2] == ["Harry", "Potter"]
    assert b.y[:10, i, 0].tolist() == [1, 1, 0, 1, 1, 0, 0, 0, 0, 0]
    assert torch.isnan(b.y[10:, i, 0]).all()
    assert b.y.shape == (b.seq_len, 6, 1) and b.output_size == 1


def test_melody_is_one_to_many():
    b = one_to_many_melody(seq_len=16, batch_size=8, seed=0, n_notes=8)
    assert torch.all(b.x[1:] == 0) and torch.all(b.x[0].sum(-1) == 1)
    start = b.x[0].argmax(-1)  # (B,)
    steps = torch.tensor([2, 4, 7, 4, 2, 0] * 3)[:16]
    assert torch.equal(b.y, (start[None, :] + steps[:, None]) % 8)


def test_reverse_targets():
    b = reverse_sequence(seq_len=12, batch_size=5, seed=0, n_symbols=6)
    src = b.x[:6].argmax(-1)  # (6, B)
    assert torch.all(b.y[:6] == -100)
    assert torch.equal(b.y[6:], src.flip(0))
    assert b.tokens[6] == "<go>"
    odd = reverse_sequence(seq_len=7, batch_size=2)
    assert odd.y[-1].tolist() == [-100, -100]
    assert torch.equal(odd.y[3:6], odd.x[:3].argmax(-1).flip(0))


@pytest.mark.parametrize("kw", [{"seq_len": 0}, {"seq_len": 100001}, {"batch_size": 0},
                                {"batch_size": 100001}, {"seq_len": 2.5}])
def test_bad_sizes_raise(kw):
    with pytest.raises(ValueError, match="seq_len|batch_size"):
        make_task("adding", **kw)
    with pytest.raises(ValueError, match="seq_len|batch_size"):
        make_task("sentiment", **kw)


def test_make_task_unknown_name_and_extra_kwargs():
    with pytest.raises(ValueError, match="adding, copy, char_lm"):
        make_task("nope")
    b = make_task("adding", text="ignored", seq_len=10, batch_size=3)
    assert b.x.shape == (10, 3, 2)
    s = make_task("sentiment", seq_len=50, batch_size=4, text=None)
    assert s.batch_size == 4
    w = make_task("word_lm", text=None, seq_len=None, batch_size=2)
    assert w.tokens[:2] == ["This", "morning"]


@pytest.mark.parametrize("name", NAMES)
def test_sizes_do_not_depend_on_seed(name):
    """The trainer builds one model from the probe batch and then draws batches by seed."""
    sizes = {(b.input_size, b.output_size, tuple(b.vocab or ()))
             for b in (make_task(name, seed=s, batch_size=3) for s in range(6))}
    assert len(sizes) == 1
