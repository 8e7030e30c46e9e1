"""What ``rnnviz train`` writes: history.csv row by row, traces as they are recorded, then weights,
config and the final trace, all moved into the output folder together (see :class:`TrainWriter`)."""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path


def fmt_number(v: float) -> str:
    """A loss or norm for a one-line summary: 4 significant digits, ``nan``/``inf`` as they are."""
    return f"{v:.4g}" if math.isfinite(v) else str(v)


class TrainWriter:
    """Writes train outputs into a private staging folder; :meth:`commit` moves them in together.

    history.csv grows row by row and each trace is saved as it is recorded, but all of it under
    ``DIR/.rnnviz-run.PID.XXXXXXXX.part/``: an earlier run's files in DIR stay whole until the
    new ones are complete, and a run that fails (full disk) leaves them as they were.
    """

    def __init__(self, folder: Path, bar):
        from rnnviz.core.safewrite import clean_stale_temporaries, staging_folder

        self.folder, self.bar = folder, bar
        clean_stale_temporaries(folder)
        clean_stale_temporaries(folder / "traces")
        self.stage = staging_folder(folder)
        (self.stage / "traces").mkdir()
        self._csv_file = open(self.stage / "history.csv", "w", newline="", encoding="utf-8")  # noqa: SIM115
        self._csv = csv.writer(self._csv_file)
        self._csv.writerow(["step", "loss", "grad_norm", "clipped"])
        self.last_trace = None
        self.last_row = None
        self.clipped = 0

    def __call__(self, event, payload):
        if event == "step":
            row = payload
            self._csv.writerow([row["step"], repr(float(row["loss"])), repr(float(row["grad_norm"])),
                                int(bool(row["clipped"]))])
            self._csv_file.flush()
            self.last_row = row
            self.clipped += bool(row["clipped"])
            if self.bar is not None:
                self.bar.update(1)
                text = f"loss {fmt_number(row['loss'])}  grad {fmt_number(row['grad_norm'])}"
                self.bar.set_postfix_str(text, refresh=False)
        elif event == "trace":
            step = int(payload.meta.get("step", 0))
            payload.save(self.stage / "traces" / f"step_{step:06d}.npz")
            self.last_trace = payload

    def close(self):
        if not self._csv_file.closed:
            self._csv_file.flush()
            os.fsync(self._csv_file.fileno())
            self._csv_file.close()

    def commit(self, model, cfg) -> None:
        """Write weights, config and the final trace beside the rest, then move all of it into place."""
        import numpy as np
        import torch

        from rnnviz.core.safewrite import atomic_write, commit_staging

        self.close()
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        atomic_write(self.stage / "weights.pt", lambda f: torch.save(state, f))
        atomic_write(self.stage / "weights.npz", lambda f: np.savez(f, **{k: v.numpy() for k, v in state.items()}))
        cfg.save(self.stage / "config.toml")
        if self.last_trace is not None:
            self.last_trace.save(self.stage / "trace_final.npz")
        commit_staging(self.stage, self.folder)

    def abort(self) -> None:
        import shutil

        if not self._csv_file.closed:
            self._csv_file.close()
        shutil.rmtree(self.stage, ignore_errors=True)
