"""The README's 'Your models, your data, your notebook' Python examples run as written."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(5000, 32)
        self.rnn = nn.LSTM(32, 64, num_layers=2, bidirectional=True, batch_first=True)
        self.head = nn.Linear(128, 5)


def test_readme_import_section_runs(tmp_path):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("<!-- section:import -->")[1].split("<!-- /section:import -->")[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 3
    torch.manual_seed(0)
    torch.save(Net().state_dict(), tmp_path / "model.pt")
    rng = np.random.default_rng(0)
    rows = "\n".join(f"{a:.4f},{b:.4f},{a + b:.4f}" for a, b in rng.standard_normal((80, 2)))
    (tmp_path / "sensors.csv").write_text("a,b,label\n" + rows + "\n", encoding="utf-8")
    code = "import rnnviz\n" + "\n".join(blocks).replace("steps=300", "steps=5")
    env = dict(os.environ, PYTHONPATH=str(REPO), QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    shown = " ".join(line[1:].strip() for line in blocks[0].splitlines() if line.startswith("#"))
    printed = proc.stdout.splitlines()[0]
    mask = lambda text: re.sub(r"= [-+0-9.e]+;", "= N;", text)  # noqa: E731 - the difference varies
    assert mask(printed) == mask(shown)  # the README shows what it prints
    assert (tmp_path / "lstmvis" / "my_run" / "states.h5").exists() and (tmp_path / "forward.mp4").exists()
    assert any((tmp_path / "runs" / "exp1").iterdir())
