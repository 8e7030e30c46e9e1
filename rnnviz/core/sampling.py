"""Sampling new text from a trained character- or word-level language model.

The model must provide ``forward_with_state(x (T, B, V) one-hot, state) -> (logits (T, B, V),
state)``, as ``rnnviz.core.model.RNNModel`` does. Each sampled token is fed back in as the next
input, carrying the recurrent state — the generation loop of the lecture notes.
"""

from __future__ import annotations

import numpy as np
import torch

from rnnviz.core.tasks import detokenize, tokenize


def next_token_probs(logits, temperature: float = 1.0) -> np.ndarray:
    """softmax(logits / temperature) as float64 (V,); temperature <= 0 -> one-hot at argmax."""
    z = torch.as_tensor(logits).detach().to("cpu", torch.float64).reshape(-1)  # (V,)
    if temperature <= 0:
        p = np.zeros(z.numel())
        p[int(torch.argmax(z))] = 1.0
        return p
    return torch.softmax(z / temperature, dim=0).numpy()


def sample_text(model, vocab: list[str], prime: str = "", length: int = 100,
                temperature: float = 1.0, seed: int = 0) -> str:
    """Return ``prime`` followed by ``length`` sampled tokens (seeded: same seed, same text).

    Character-level if every vocab entry is one character (tokens joined directly), otherwise
    word-level (prime split with ``tokenize``, prime + samples re-joined with ``detokenize``). The prime is fed one
    token at a time; an empty prime starts from an all-zero input. temperature <= 0 is greedy.
    """
    if not 0 <= length <= 100_000:
        raise ValueError(f"length must be between 0 and 100000, got {length}")
    if not vocab:
        raise ValueError("vocab is empty")
    chars = all(len(v) == 1 for v in vocab)
    index = {v: i for i, v in enumerate(vocab)}
    prime_tokens = list(prime) if chars else tokenize(prime)
    unknown = sorted({t for t in prime_tokens if t not in index})
    if unknown:
        raise ValueError(f"prime contains tokens not in the vocabulary: {unknown}")
    param = next(iter(model.parameters()), None)
    device = param.device if param is not None else torch.device("cpu")
    V = len(vocab)
    gen = torch.Generator().manual_seed(seed)

    def one_hot(i: int | None) -> torch.Tensor:
        x = torch.zeros(1, 1, V, device=device)  # (T=1, B=1, V)
        if i is not None:
            x[0, 0, i] = 1.0
        return x

    out: list[str] = []
    with torch.no_grad():
        state = None
        inputs = [index[t] for t in prime_tokens] or [None]
        for i in inputs:
            logits, state = model.forward_with_state(one_hot(i), state)
        for _ in range(length):
            p = torch.from_numpy(next_token_probs(logits[-1, 0], temperature))  # (V,)
            i = int(torch.multinomial(p, 1, generator=gen))
            out.append(vocab[i])
            logits, state = model.forward_with_state(one_hot(i), state)
    if chars:
        return prime + "".join(out)
    return detokenize(prime_tokens + out)
