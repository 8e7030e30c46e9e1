"""Tasks made of words and characters: language models, sentiment, agreement, name tagging."""

from __future__ import annotations

import math
import re
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from rnnviz.core.tasks.batch import TaskBatch, _check_int, _check_sizes, _one_hot

PAD = "<pad>"
_TOKEN_RE = re.compile(r"\w+(?:'\w+)?|[^\w\s]")


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
        repo = Path(__file__).resolve().parents[3] / "assets" / "corpus.txt"
        return repo.read_text(encoding="utf-8")


def _windows(ids: list[int], seq_len: int, batch_size: int, rng) -> np.ndarray:
    """(seq_len + 1, B) random windows of ids; the sequence is cycled when too short."""
    if len(ids) < seq_len + 1:
        ids = ids * math.ceil((seq_len + 1) / len(ids) + 1)
    arr = np.asarray(ids)
    starts = rng.integers(0, len(arr) - seq_len, size=batch_size)  # inclusive of last start
    return np.stack([arr[s : s + seq_len + 1] for s in starts], axis=1)  # (T+1, B)


# --------------------------------------------------------------------------- tasks


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
