"""Choosing a torch device, with one clear message when the asked-for one is missing."""

from __future__ import annotations

import sys

import torch

DEVICES = ("auto", "cpu", "cuda", "mps")


def available_devices() -> list[str]:
    """The devices this machine really has, CPU first."""
    found = ["cpu"]
    if torch.cuda.is_available():
        found += [f"cuda:{i}" if torch.cuda.device_count() > 1 else "cuda" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return found


def resolve_device(name: str | torch.device | None = "auto", warn=None) -> torch.device:
    """Turn "auto" / "cpu" / "cuda[:i]" / "mps" into a device this machine has.

    A device that is not there falls back to the CPU and says so once through ``warn``
    (default: one line on stderr), so scripts written on a GPU machine still run on a laptop.
    """
    if isinstance(name, torch.device):
        name = str(name)
    name = (name or "auto").strip().lower()
    say = warn or (lambda msg: print(msg, file=sys.stderr))
    base = name.split(":")[0]
    if base not in DEVICES:
        raise ValueError(f"unknown device {name!r}: choose one of {', '.join(DEVICES)}")
    if base == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if base == "cuda":
        if not torch.cuda.is_available():
            say(f"rnnviz: device {name!r} asked for, but this machine has no CUDA GPU; using the CPU")
            return torch.device("cpu")
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            say(f"rnnviz: {name!r} does not exist ({torch.cuda.device_count()} GPU(s)); using cuda:0")
            index = 0
        return torch.device("cuda", index)
    if base == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            say("rnnviz: device 'mps' asked for, but Apple's Metal is not available here; using the CPU")
            return torch.device("cpu")
        return torch.device("mps")
    return torch.device("cpu")
