"""Toy sequence tasks from the lecture notes, each returning a :class:`TaskBatch`.

Every task is a plain function of keyword arguments (``seq_len``, ``batch_size``, ``seed`` and
task-specific options) that returns a ``TaskBatch`` — it unpacks as ``x, y = batch``. All
randomness comes from a local ``numpy.random.Generator`` seeded with ``seed``, so the same
arguments always give identical tensors and the global RNG is never touched.

Layouts (T = time steps, B = batch, I = input size, O = output size)::

    x  (T, B, I) float32
    y  loss "mse"/"bce": float32 (B, O) = target at the last step only, or (T, B, O), NaN = none
       loss "ce":        int64   (B,)   = target at the last step only, or (T, B),  -100 = none

Use :func:`make_task` with a name from :data:`TASKS` to build any task from a config.
"""

from __future__ import annotations

import inspect
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional

from rnnviz.core.losses import remember_task_loss

IGNORE = -100  # CE target value meaning "no target at this step"
MAX_SIZE = 100_000
PAD = "<pad>"
_TOKEN_RE = re.compile(r"\w+(?:'\w+)?|[^\w\s]")


@dataclass
class TaskBatch:
    """One batch of a task: inputs, targets and what views need to label them."""

    x: torch.Tensor  # (T, B, I) float32
    y: torch.Tensor  # see module docstring
    loss: str  # "mse" | "ce" | "bce"
    shape: str  # "many-to-one" | "many-to-many" | "one-to-many" | "encoder-decoder" | "one-to-one"
    output_size: int
    vocab: list[str] | None = None  # one-hot token strings, index = position
    tokens: list[str] | None = None  # input tokens of sample 0, length T
    name: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        remember_task_loss(self.y, self.loss)  # ``x, y = batch`` still knows its loss in record()

    def __iter__(self):
        yield self.x
        yield self.y

    @property
    def input_size(self) -> int:
        return int(self.x.shape[2])

    @property
    def seq_len(self) -> int:
        return int(self.x.shape[0])

    @property
    def batch_size(self) -> int:
        return int(self.x.shape[1])


# --------------------------------------------------------------------------- helpers


def _check_int(name: str, value, lo: int = 1, hi: int = MAX_SIZE) -> int:
    try:
        v = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None
    if not lo <= v <= hi:
        raise ValueError(f"{name} must be between {lo} and {hi}, got {v}")
    return v


def _check_sizes(seq_len, batch_size) -> tuple[int | None, int]:
    seq = None if seq_len is None else _check_int("seq_len", seq_len)
    return seq, _check_int("batch_size", batch_size)


def _one_hot(idx: np.ndarray, size: int) -> torch.Tensor:
    """(T, B) integer indices -> (T, B, size) float32 one-hot."""
    return functional.one_hot(torch.as_tensor(idx, dtype=torch.long), size).to(torch.float32)


def tokenize(text: str) -> list[str]:
    """Split text into words and punctuation marks: "a walk." -> ["a", "walk", "."]."""
    return _TOKEN_RE.findall(text)


def detokenize(tokens: list[str]) -> str:
    """Join word tokens with spaces, without a space before punctuation."""
    return re.sub(r" ([^\w\s])", r"\1", " ".join(tokens))


def load_corpus() -> str:
    """The bundled plain-English corpus (``rnnviz/data/corpus.txt``, same as ``assets/``)."""
    try:
        return resources.files("rnnviz").joinpath("data/corpus.txt").read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError):
        repo = Path(__file__).resolve().parents[2] / "assets" / "corpus.txt"
        return repo.read_text(encoding="utf-8")


def _windows(ids: list[int], seq_len: int, batch_size: int, rng) -> np.ndarray:
    """(seq_len + 1, B) random windows of ids; the sequence is cycled when too short."""
    if len(ids) < seq_len + 1:
        ids = ids * math.ceil((seq_len + 1) / len(ids) + 1)
    arr = np.asarray(ids)
    starts = rng.integers(0, len(arr) - seq_len, size=batch_size)  # inclusive of last start
    return np.stack([arr[s : s + seq_len + 1] for s in starts], axis=1)  # (T+1, B)


# --------------------------------------------------------------------------- tasks


def adding_problem(seq_len: int = 50, batch_size: int = 16, seed: int = 0) -> TaskBatch:
    """Add the two marked numbers: one marker in each half; predict the sum at the end.

    x (T, B, 2): channel 0 uniform [0, 1] values, channel 1 the markers (0/1).
    y (B, 1): sum of the two marked values. Predicting the constant 1 gives MSE ~ 1/6.
    """
    T, B = _check_sizes(seq_len, batch_size)
    if T < 2:
        raise ValueError(f"adding problem needs seq_len >= 2 (one marker per half), got {T}")
    rng = np.random.default_rng(seed)
    vals = rng.random((T, B)).astype(np.float32)  # (T, B)
    first = rng.integers(0, T // 2, size=B)  # (B,)
    second = rng.integers(T // 2, T, size=B)  # (B,)
    marks = np.zeros((T, B), np.float32)
    cols = np.arange(B)
    marks[first, cols] = 1.0
    marks[second, cols] = 1.0
    x = torch.from_numpy(np.stack([vals, marks], axis=2))  # (T, B, 2)
    y = torch.from_numpy(vals[first, cols] + vals[second, cols]).unsqueeze(1)  # (B, 1)
    tokens = [f"{v:.2f}" + ("*" if m else "") for v, m in zip(vals[:, 0], marks[:, 0], strict=True)]
    return TaskBatch(x, y, "mse", "many-to-one", 1, None, tokens, "adding",
                     {"markers": np.stack([first, second], axis=1)})  # (B, 2)


def copy_task(seq_len: int = 20, batch_size: int = 16, seed: int = 0,
              n_symbols: int = 8, n_copy: int = 5) -> TaskBatch:
    """Remember n_copy symbols over a stretch of blanks and repeat them after the delimiter.

    Input: n_copy symbols, blanks "_", the delimiter ":" at T - n_copy - 1, n_copy blanks.
    y (T, B) int64: the copied symbols (0..n_symbols-1) in the last n_copy steps, -100 before.
    vocab = symbols + ["_", ":"]; output_size = n_symbols.
    """
    T, B = _check_sizes(seq_len, batch_size)
    n_symbols = _check_int("n_symbols", n_symbols, 1, 1000)
    n_copy = _check_int("n_copy", n_copy)
    if T < 2 * n_copy + 1:
        raise ValueError(f"copy task needs seq_len >= 2*n_copy+1 = {2 * n_copy + 1} "
                         f"(symbols, delimiter, recall), got seq_len={T}")
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    symbols = list(letters[:n_symbols]) if n_symbols <= 26 else [str(i) for i in range(n_symbols)]
    blank, delim = n_symbols, n_symbols + 1
    rng = np.random.default_rng(seed)
    data = rng.integers(0, n_symbols, size=(n_copy, B))  # (n_copy, B)
    idx = np.full((T, B), blank)
    idx[:n_copy] = data
    idx[T - n_copy - 1] = delim
    y = np.full((T, B), IGNORE, dtype=np.int64)
    y[T - n_copy:] = data
    vocab = symbols + ["_", ":"]
    return TaskBatch(_one_hot(idx, n_symbols + 2), torch.from_numpy(y), "ce", "many-to-many",
                     n_symbols, vocab, [vocab[i] for i in idx[:, 0]], "copy",
                     {"targets": [symbols[i] for i in data[:, 0]], "out_vocab": symbols})


def char_lm(text: str | None = None, seq_len: int = 32, batch_size: int = 8,
            seed: int = 0) -> TaskBatch:
    """Next-character language model on random windows of ``text`` (default: bundled corpus).

    vocab = sorted unique characters; x (T, B, V) one-hot; y (T, B) int64 next character.
    """
    T, B = _check_sizes(seq_len, batch_size)
    text = load_corpus() if text is None else text
    if not text.strip():
        raise ValueError("text is empty (or whitespace only): give some text for the char LM")
    vocab = sorted(set(text))
    index = {c: i for i, c in enumerate(vocab)}
    win = _windows([index[c] for c in text], T, B, np.random.default_rng(seed))  # (T+1, B)
    return TaskBatch(_one_hot(win[:-1], len(vocab)), torch.from_numpy(win[1:].astype(np.int64)),
                     "ce", "many-to-many", len(vocab), vocab, [vocab[i] for i in win[:-1, 0]],
                     "char_lm", {"targets": [vocab[i] for i in win[1:, 0]]})


def word_lm(text: str | None = "This morning I took my cat for a walk.", seq_len: int | None = None,
            batch_size: int = 1, seed: int = 0) -> TaskBatch:
    """Next-word language model on words and punctuation, one-hot.

    seq_len None: the whole text (x = tokens[:-1], y = tokens[1:]) in every sample; otherwise
    random windows of seq_len words (cycling a short text). y (T, B) int64 next word.
    """
    T, B = _check_sizes(seq_len, batch_size)
    words = tokenize("This morning I took my cat for a walk." if text is None else text)
    if not words:
        raise ValueError("text is empty (no words): give some text for the word LM")
    vocab = sorted(set(words))
    index = {w: i for i, w in enumerate(vocab)}
    ids = [index[w] for w in words]
    if T is None:
        ids = ids * 2 if len(ids) < 2 else ids
        win = np.repeat(np.asarray(ids)[:, None], B, axis=1)  # (T+1, B)
    else:
        win = _windows(ids, T, B, np.random.default_rng(seed))  # (T+1, B)
    return TaskBatch(_one_hot(win[:-1], len(vocab)), torch.from_numpy(win[1:].astype(np.int64)),
                     "ce", "many-to-many", len(vocab), vocab, [vocab[i] for i in win[:-1, 0]],
                     "word_lm", {"targets": [vocab[i] for i in win[1:, 0]]})


_SUBJECTS = ("food", "service", "movie", "music")
_GOOD = ("good", "great")
_BAD = ("bad", "awful")
# (template, label when {a} is the good word and {b} the bad one); swapping a/b flips it.
_TEMPLATES = (
    ("the {s} was {a} , not {b} at all .", 1),
    ("the {s} was not {a} , it was {b} .", 0),
    ("at first the {s} seemed {b} , but in the end it was {a} .", 1),
)
SENTIMENT_NOTES = ("The food was good, not bad at all.", "The food was bad, not good at all.")


def _sentiment_vocab() -> list[str]:
    words = {w for t, _ in _TEMPLATES for w in t.split() if "{" not in w}
    return [PAD] + sorted(words | set(_SUBJECTS) | set(_GOOD) | set(_BAD))


def bag_of_words(tokens: list[str], vocab: list[str]) -> np.ndarray:
    """Counts (V,) int64 of each vocab word in tokens; pad and unknown tokens are ignored."""
    index = {w: i for i, w in enumerate(vocab)}
    counts = np.zeros(len(vocab), dtype=np.int64)
    for t in tokens:
        if t != PAD and t in index:
            counts[index[t]] += 1
    return counts


def sentiment(batch_size: int = 16, seed: int = 0) -> TaskBatch:
    """Many-to-one sentiment where only word *order* decides: a bag of words cannot solve it.

    Samples come in pairs (2k, 2k+1) with the same words in swapped order and opposite labels,
    e.g. the notes' "the food was good , not bad at all ." (1) / "... bad , not good ..." (0).
    Lower-case tokens, left-padded with "<pad>". y (B,) int64: 1 positive, 0 negative; loss
    ce with output_size 2. meta: sentences, partner (index of the pair sample or -1), notes.
    """
    _, B = _check_sizes(None, batch_size)
    rng = np.random.default_rng(seed)
    vocab = _sentiment_vocab()
    sents, labels = [], []
    for _ in range((B + 1) // 2):
        tpl, label = _TEMPLATES[rng.integers(len(_TEMPLATES))]
        s = _SUBJECTS[rng.integers(len(_SUBJECTS))]
        good, bad = _GOOD[rng.integers(2)], _BAD[rng.integers(2)]
        pair = [(tpl.format(s=s, a=good, b=bad), label),
                (tpl.format(s=s, a=bad, b=good), 1 - label)]
        if rng.random() < 0.5:
            pair.reverse()
        for sent, lab in pair:
            sents.append(sent.split())
            labels.append(lab)
    sents, labels = sents[:B], labels[:B]
    T = max(len(s) for s in sents)
    padded = [[PAD] * (T - len(s)) + s for s in sents]
    index = {w: i for i, w in enumerate(vocab)}
    idx = np.array([[index[w] for w in s] for s in padded]).T  # (T, B)
    partner = [b ^ 1 if (b ^ 1) < B else -1 for b in range(B)]
    return TaskBatch(_one_hot(idx, len(vocab)), torch.tensor(labels, dtype=torch.long), "ce",
                     "many-to-one", 2, vocab, padded[0], "sentiment",
                     {"sentences": [" ".join(s) for s in sents], "partner": partner,
                      "notes": SENTIMENT_NOTES, "classes": ["negative", "positive"]})


_ANIMALS = (("cat", "cats"), ("dog", "dogs"), ("bird", "birds"), ("horse", "horses"))
_NUMBERS = ("two", "three", "ten", "some")
_FOODS = ("apples", "pears", "plums", "nuts", "grapes")
_ADVERBS = ("sadly", "today", "clearly")


def _clause(m: int, rng) -> list[str]:
    """A relative clause of exactly m words: 'which ate ten apples and three pears'."""
    if m == 1:
        return [_ADVERBS[rng.integers(len(_ADVERBS))]]
    words, r = ["which", "ate"], m - 2

    def food(with_number: bool) -> list[str]:
        num = [_NUMBERS[rng.integers(len(_NUMBERS))]] if with_number else []
        return num + [_FOODS[rng.integers(len(_FOODS))]]

    if r > 0:
        first = 1 if r in (1, 3) else 2
        words += food(first == 2)
        r -= first
    while r > 0:  # chunks "and pears" (2) / "and three pears" (3) cover every r >= 2
        take = 2 if r in (2, 4) else 3
        words += ["and"] + food(take == 3)
        r -= take
    return words


def agreement(seq_len: int | None = None, batch_size: int = 16, seed: int = 0,
              min_gap: int = 2, max_gap: int = 8) -> TaskBatch:
    """Long-range agreement: "the cat , which ate ten apples and three pears ," -> was / were.

    The gap (filler words between noun and verb, commas not counted) is drawn per sample from
    [min_gap, max_gap]; shorter samples are left-padded with "<pad>". x stops right before the
    verb. y (B,) int64: 0 = "was" (singular noun), 1 = "were" (plural); loss ce, output 2.
    If seq_len is given every sample uses the gap that makes T == seq_len (min/max_gap ignored).
    """
    T, B = _check_sizes(seq_len, batch_size)
    if T is not None and T < 2:
        raise ValueError(f"agreement needs seq_len >= 2 ('the cat'), got {T}")
    min_gap = _check_int("min_gap", min_gap, 0)
    max_gap = _check_int("max_gap", max_gap, 0)
    if min_gap > max_gap:
        raise ValueError(f"min_gap ({min_gap}) must be <= max_gap ({max_gap})")
    rng = np.random.default_rng(seed)
    sents, gaps, plural = [], [], []
    for _ in range(B):
        gap = (max(T - 4, 0) if T is not None else int(rng.integers(min_gap, max_gap + 1)))
        pl = int(rng.integers(2))
        noun = _ANIMALS[rng.integers(len(_ANIMALS))][pl]
        words = ["the", noun] + ([",", *_clause(gap, rng), ","] if gap > 0 else [])
        sents.append(words)
        gaps.append(gap)
        plural.append(pl)
    T = T if T is not None else max(len(s) for s in sents)
    padded = [[PAD] * (T - len(s)) + s for s in sents]
    vocab = [PAD] + sorted({"the", ",", "which", "ate", "and", *_NUMBERS, *_FOODS, *_ADVERBS,
                            *(w for pair in _ANIMALS for w in pair)})
    index = {w: i for i, w in enumerate(vocab)}
    idx = np.array([[index[w] for w in s] for s in padded]).T  # (T, B)
    verbs = ["was", "were"]
    return TaskBatch(_one_hot(idx, len(vocab)), torch.tensor(plural, dtype=torch.long), "ce",
                     "many-to-one", 2, vocab, padded[0], "agreement",
                     {"gaps": gaps, "noun_pos": [T - len(s) + 1 for s in sents], "classes": verbs,
                      "sentences": [" ".join(s + [verbs[p], "full", "."])
                                    for s, p in zip(sents, plural, strict=True)]})


def trajectory(seq_len: int = 50, batch_size: int = 16, seed: int = 0,
               kind: str = "ball") -> TaskBatch:
    """"Given a ball, where does it go next?" x (T, B, 2) positions, y (T, B, 2) next position.

    kind "ball": a ball in the unit box under gravity, bouncing off floor and walls with
    damping. kind "sine": (A sin(wt+p), A cos(wt+p)), a point circling — a pure oscillator.
    """
    T, B = _check_sizes(seq_len, batch_size)
    rng = np.random.default_rng(seed)
    if kind == "ball":
        dt, g, damping = 0.05, 9.8 * 0.2, 0.85
        pos = np.stack([rng.uniform(0.1, 0.9, B), rng.uniform(0.4, 0.9, B)], axis=1)  # (B, 2)
        vel = np.stack([rng.uniform(-1.0, 1.0, B), rng.uniform(-0.5, 0.5, B)], axis=1)  # (B, 2)
        path = np.empty((T + 1, B, 2))
        for t in range(T + 1):
            path[t] = pos
            vel[:, 1] -= g * dt
            pos = pos + vel * dt
            for d in (0, 1):  # reflect off the walls (d=0) and floor/ceiling (d=1)
                low, high = pos[:, d] < 0.0, pos[:, d] > 1.0
                pos[low, d] = -pos[low, d]
                pos[high, d] = 2.0 - pos[high, d]
                vel[low | high, d] *= -damping
    elif kind == "sine":
        w = rng.uniform(0.15, 0.5, B)
        p = rng.uniform(0, 2 * np.pi, B)
        a = rng.uniform(0.5, 1.0, B)
        ang = np.arange(T + 1)[:, None] * w + p  # (T+1, B)
        path = np.stack([a * np.sin(ang), a * np.cos(ang)], axis=2)  # (T+1, B, 2)
    else:
        raise ValueError(f"trajectory kind must be 'ball' or 'sine', got {kind!r}")
    path = torch.from_numpy(path.astype(np.float32))
    return TaskBatch(path[:-1].clone(), path[1:].clone(), "mse", "many-to-many", 2, None,
                     [f"t{t}" for t in range(T)], "trajectory", {"kind": kind})


_NAME_SENTENCES = (
    ("Harry Potter and Hermione Granger invented a new spell .", "1 1 0 1 1 0 0 0 0 0"),
    ("Yesterday Ada Lovelace wrote a program for Charles Babbage .", "0 1 1 0 0 0 0 1 1 0"),
    ("The teacher gave Marie Curie a prize in Paris .", "0 0 0 1 1 0 0 0 0 0"),
    ("Alan Turing and Grace Hopper met in London .", "1 1 0 1 1 0 0 0 0"),
    ("Ron Weasley lost his wand again .", "1 1 0 0 0 0 0"),
    ("On Monday Isaac Newton saw an apple fall .", "0 0 1 1 0 0 0 0 0"),
)


def name_tagging(batch_size: int = 4, seed: int = 0) -> TaskBatch:
    """Named-entity tagging from the notes: is each word part of a person's name?

    Sample 0 is always the notes' "Harry Potter and Hermione Granger invented a new spell .";
    the other sentences (case kept) follow in a seeded order, right-padded with "<pad>".
    Loss bce on one logit: y (T, B, 1) float32, 1 = name, 0 = not, NaN at padding.
    """
    _, B = _check_sizes(None, batch_size)
    rng = np.random.default_rng(seed)
    order = [0, *(1 + rng.permutation(len(_NAME_SENTENCES) - 1))]  # the notes' sentence first
    chosen = [_NAME_SENTENCES[order[b % len(order)]] for b in range(B)]
    sents = [s.split() for s, _ in chosen]
    tags = [[float(v) for v in t.split()] for _, t in chosen]
    T = max(len(s) for s in sents)
    vocab = [PAD] + sorted({w for s, _ in _NAME_SENTENCES for w in s.split()})
    index = {w: i for i, w in enumerate(vocab)}
    idx = np.array([[index[w] for w in s + [PAD] * (T - len(s))] for s in sents]).T  # (T, B)
    y = torch.full((T, B, 1), float("nan"))
    for b, tg in enumerate(tags):
        y[: len(tg), b, 0] = torch.tensor(tg)
    return TaskBatch(_one_hot(idx, len(vocab)), y, "bce", "many-to-many", 1, vocab,
                     [vocab[i] for i in idx[:, 0]], "tagging",
                     {"sentences": [" ".join(s) for s in sents], "tags": tags})


_MELODY = (0, 2, 4, 7, 4, 2)  # up the arpeggio and back down, in scale steps


def one_to_many_melody(seq_len: int = 16, batch_size: int = 8, seed: int = 0,
                       n_notes: int = 8) -> TaskBatch:
    """One-to-many generation: a single seed note at t=0 (zeros afterwards) -> a melody.

    The melody is m[k] = (seed + (0, 2, 4, 7, 4, 2)[k % 6]) mod n_notes; the target at step t
    is the next note m[t + 1]. y (T, B) int64; loss ce, output_size n_notes.
    """
    T, B = _check_sizes(seq_len, batch_size)
    n_notes = _check_int("n_notes", n_notes, 2, 1000)
    names = list("CDEFGAB") + ["C'"] if n_notes == 8 else [f"n{i}" for i in range(n_notes)]
    seed_notes = np.random.default_rng(seed).integers(0, n_notes, size=B)  # (B,)
    steps = np.array([_MELODY[(t + 1) % len(_MELODY)] for t in range(T)])  # (T,)
    y = (seed_notes[None, :] + steps[:, None]) % n_notes  # (T, B)
    x = torch.zeros(T, B, n_notes)
    x[0] = _one_hot(seed_notes, n_notes)
    return TaskBatch(x, torch.from_numpy(y.astype(np.int64)), "ce", "one-to-many", n_notes,
                     names, [names[seed_notes[0]]] + ["-"] * (T - 1), "melody",
                     {"targets": [names[i] for i in y[:, 0]], "pattern": list(_MELODY)})


def reverse_sequence(seq_len: int = 12, batch_size: int = 16, seed: int = 0,
                     n_symbols: int = 6) -> TaskBatch:
    """Encoder-decoder ("translation-shaped"): read n = T // 2 symbols, then say them reversed.

    Input: n symbols, "<go>" at step n, blanks "_" after. y (T, B) int64: -100 for the n
    encoder steps, then the input reversed at steps n .. 2n-1 (-100 at a last odd step).
    vocab = symbols + ["<go>", "_"]; output_size n_symbols.
    """
    T, B = _check_sizes(seq_len, batch_size)
    n_symbols = _check_int("n_symbols", n_symbols, 1, 26)
    if T < 2:
        raise ValueError(f"reverse task needs seq_len >= 2 (encode and decode), got {T}")
    n = T // 2
    data = np.random.default_rng(seed).integers(0, n_symbols, size=(n, B))  # (n, B)
    idx = np.full((T, B), n_symbols + 1)
    idx[:n] = data
    idx[n] = n_symbols
    y = np.full((T, B), IGNORE, dtype=np.int64)
    y[n : 2 * n] = data[::-1]
    symbols = list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"[:n_symbols])
    vocab = symbols + ["<go>", "_"]
    return TaskBatch(_one_hot(idx, n_symbols + 2), torch.from_numpy(y), "ce", "encoder-decoder",
                     n_symbols, vocab, [vocab[i] for i in idx[:, 0]], "reverse",
                     {"enc_len": n, "dec_len": n, "out_vocab": symbols,
                      "targets": [symbols[i] for i in data[::-1, 0]]})


def flip_flop(seq_len: int = 100, batch_size: int = 16, seed: int = 0, n_bits: int = 3,
              p_pulse: float = 0.05, noise: float = 0.0) -> TaskBatch:
    """The n-bit flip-flop of Sussillo & Barak (2013): remember the sign of each line's last pulse.

    x (T, B, n_bits): each input line is 0 except for occasional ±1 pulses (probability p_pulse per
    step and line); at t = 0 every line gets a pulse, so every output is defined from the start.
    y (T, B, n_bits) float32: output j holds the sign (±1) of line j's most recent pulse. A network
    that solves it needs 2**n_bits stable memories — the corners of a cube for three bits.
    ``noise`` adds Gaussian noise of that standard deviation to the inputs (the targets stay
    clean): a network trained with it must pull its state back, so its memories become
    attracting fixed points rather than slowly drifting states.
    """
    T, B = _check_sizes(seq_len, batch_size)
    n_bits = _check_int("n_bits", n_bits, 1, 64)
    p = float(p_pulse)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p_pulse must be a probability in [0, 1], got {p_pulse!r}")
    noise = float(noise)
    if not 0.0 <= noise <= 10.0:
        raise ValueError(f"noise must be between 0 and 10, got {noise!r}")
    rng = np.random.default_rng(seed)
    pulse = rng.random((T, B, n_bits)) < p
    pulse[0] = True
    signs = np.where(rng.random((T, B, n_bits)) < 0.5, -1.0, 1.0)
    x = np.where(pulse, signs, 0.0).astype(np.float32)  # (T, B, n_bits)
    last = np.where(pulse, np.arange(T)[:, None, None], 0)
    np.maximum.accumulate(last, axis=0, out=last)  # index of the latest pulse, per line
    y = np.take_along_axis(x, last, axis=0)  # (T, B, n_bits): its sign, held
    marks = {1.0: "+", -1.0: "-", 0.0: "."}
    tokens = ["".join(marks[float(v)] for v in x[t, 0]) for t in range(T)]
    if noise:
        x = x + (noise * rng.standard_normal(x.shape)).astype(np.float32)
    return TaskBatch(torch.from_numpy(x), torch.from_numpy(y.astype(np.float32)), "mse", "many-to-many",
                     n_bits, None, tokens, "flipflop", {"n_bits": n_bits, "p_pulse": p, "noise": noise})


def flip_flop_error(y_hat, y) -> float:
    """Share of (step, sample, bit) outputs whose sign differs from the flip-flop target."""
    y_hat, y = torch.as_tensor(y_hat), torch.as_tensor(y)
    mask = ~torch.isnan(y)
    return float((torch.sign(y_hat[mask]) != y[mask]).float().mean())


def sine_wave(seq_len: int = 100, batch_size: int = 16, seed: int = 0, omega_min: float = 0.1,
              omega_max: float = 0.6) -> TaskBatch:
    """Sine-wave generator (Sussillo & Barak 2013): a static input sets the frequency.

    Each sample draws ω uniformly in [omega_min, omega_max] radians per step. x (T, B, 1) holds the
    constant cue (ω − omega_min)/(omega_max − omega_min) + 0.25 at every step; y (T, B, 1) is
    sin(ω·t). Solved by a family of oscillations (limit cycles) whose speed the input tunes.
    """
    T, B = _check_sizes(seq_len, batch_size)
    lo, hi = float(omega_min), float(omega_max)
    if not (math.isfinite(lo) and math.isfinite(hi) and 0.0 < lo < hi <= math.pi):
        raise ValueError(f"need 0 < omega_min < omega_max <= pi, got {omega_min!r}, {omega_max!r}")
    omega = np.random.default_rng(seed).uniform(lo, hi, size=B)  # (B,)
    cue = (omega - lo) / (hi - lo) + 0.25
    x = np.broadcast_to(cue, (T, B))[:, :, None].astype(np.float32)
    y = np.sin(np.arange(T)[:, None] * omega[None, :])[:, :, None].astype(np.float32)
    return TaskBatch(torch.from_numpy(x.copy()), torch.from_numpy(y), "mse", "many-to-many", 1, None,
                     [f"t{t}" for t in range(T)], "sine",
                     {"omega": omega.tolist(), "cue": cue.tolist()})


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class TaskSpec:
    """A registered task: its function and what kind of problem it is."""

    name: str
    fn: Callable[..., TaskBatch]
    loss: str
    shape: str
    description: str
    uses_text: bool = False
    #: The loss of the best trivial answer, where there is one (the loss plot draws it): a model
    #: whose loss flattens there has learned nothing beyond it.
    baseline: float | None = None
    baseline_label: str = ""


TASKS: dict[str, TaskSpec] = {s.name: s for s in (
    TaskSpec("adding", adding_problem, "mse", "many-to-one",
             "Add the two marked numbers of a long sequence (long-range memory).",
             baseline=1 / 6, baseline_label="always answering 1"),
    TaskSpec("copy", copy_task, "ce", "many-to-many",
             "Remember a few symbols across blanks and repeat them after the delimiter."),
    TaskSpec("char_lm", char_lm, "ce", "many-to-many",
             "Predict the next character of a text; sample new text from it.", True),
    TaskSpec("word_lm", word_lm, "ce", "many-to-many",
             "Predict the next word: 'This morning I took my cat for a walk.'", True),
    TaskSpec("sentiment", sentiment, "ce", "many-to-one",
             "Good or bad? Same words, different order: a bag of words cannot tell."),
    TaskSpec("agreement", agreement, "ce", "many-to-one",
             "'The cat(s), which ate ..., was/were': agreement across a gap."),
    TaskSpec("trajectory", trajectory, "mse", "many-to-many",
             "Given a ball, where does it go next? (bouncing ball or sine)"),
    TaskSpec("tagging", name_tagging, "bce", "many-to-many",
             "Is each word part of a person's name? (Harry Potter and Hermione Granger ...)"),
    TaskSpec("melody", one_to_many_melody, "ce", "one-to-many",
             "One seed note in, a whole arpeggio out (music generation shape)."),
    TaskSpec("reverse", reverse_sequence, "ce", "encoder-decoder",
             "Read a sequence, then output it reversed (translation shape)."),
    TaskSpec("flipflop", flip_flop, "mse", "many-to-many",
             "3-bit flip-flop: hold the sign of each line's last pulse (eight memories)."),
    TaskSpec("sine", sine_wave, "mse", "many-to-many",
             "Generate a sine wave whose frequency a constant input sets."),
)}


def make_task(name: str, **kwargs) -> TaskBatch:
    """Build task ``name`` from keyword args, dropping the ones it does not take.

    ``None`` values are dropped too, so the task's own default applies (e.g. text=None).
    """
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; valid names: {', '.join(TASKS)}")
    batch_size = kwargs.get("batch_size")
    _check_sizes(kwargs.get("seq_len"), 1 if batch_size is None else batch_size)
    fn = TASKS[name].fn
    params = inspect.signature(fn).parameters
    return fn(**{k: v for k, v in kwargs.items() if k in params and v is not None})
