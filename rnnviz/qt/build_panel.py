"""The build panel: every setting of a run as a control, with tooltips about the dynamics.

Edits are collected for a moment (debounced) and then applied to ``state.config`` through
``state.set_config``, which validates them; a refused value is explained in the status bar
and the controls snap back to the config. Controls that make no sense for the chosen cell are
disabled (activation for LSTM/GRU, forget bias for RNN/GRU), with a tooltip saying why.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from rnnviz.core.cells import CELLS
from rnnviz.core.config import ACTIVATIONS, CLIPS, INITS, MAX_HIDDEN, MAX_LAYERS, MAX_SIZE, OPTIMIZERS, RunConfig
from rnnviz.core.device import available_devices
from rnnviz.core.tasks import TASKS

DEBOUNCE_MS = 250


def _cell_tips() -> dict[str, str]:
    """Tooltips that name cells, written from the cell registry (so a registered cell shows too)."""
    with_act = " and ".join(s.display for s in CELLS.values() if s.uses_activation) or "no cell"
    return {
        "cell": "The recurrent cell.\n" + "\n".join(s.summary or s.display for s in CELLS.values()),
        "activation": "f in h_t = f(W_hh h_{t-1} + W_xh x_t). tanh squashes to (-1, 1) and its slope < 1\n"
                      "makes gradients vanish; ReLU has slope 1 (with identity init it keeps gradients alive,\n"
                      f"but states and gradients can explode). Only {with_act} has this choice.",
        "activation_off": "Gated cells fix their own nonlinearities (sigmoid gates, tanh candidate):\n"
                          f"the activation choice applies to {with_act} only.",
    }


TIPS = {
    "hidden_size": "Number of units in h_t. More units: more memory and bigger W_hh (H×H).",
    "num_layers": "Deep RNN: stack layers, each reading the hidden states of the one below.",
    "bidirectional": "A second chain reads the sequence backwards; y_t sees past and future.\n"
                     "Not possible for one-to-many tasks (later inputs are generated).",
    "init": "How W_hh starts. identity: h_t copies h_{t-1} (W_hh = I × scale) — gradients neither\n"
            "vanish nor explode at first. orthogonal: all singular values 1. default: PyTorch's\n"
            "uniform init, singular values below 1 → vanishing gradients.",
    "init_scale": "Multiplies W_hh at init. >1 pushes singular values above 1 (exploding gradients),\n"
                  "<1 below 1 (vanishing gradients).",
    "forget_bias": "Forget-gate bias b_f. A positive bias (≈1) keeps the forget gate near 1 so the cell\n"
                   "state — and its gradient — is carried across many steps.",
    "forget_bias_off": "Only a cell with a forget gate (the LSTM) has a forget bias.",
    "task": "The sequence problem, which fixes the shape (many-to-one, many-to-many, ...), the\n"
            "input/output sizes and the loss.",
    "text": "Type your own sentence and press 'Read my text': a character-level (or word-level)\n"
            "language model reads it token by token; watch h_t change with each character.",
    "seq_len": "T: the number of time steps unrolled. Long sequences need gradients to travel far\n"
               "back in BPTT — that is where they vanish or explode.",
    "batch_size": "Sequences per batch. The views show one sample; the sample box picks which.",
    "optimizer": "How gradients update the weights (SGD, SGD+momentum, RMSprop, Adam).",
    "lr": "Learning rate: step size of each update. Too large with exploding gradients → NaN.",
    "clip": "Gradient clipping. norm: rescale the whole gradient when ‖g‖ > threshold (keeps its\n"
            "direction). value: clip each component to ±threshold. Tames exploding gradients;\n"
            "does nothing for vanishing ones.",
    "threshold": "Clipping threshold: maximum gradient norm (norm) or component value (value).",
    "steps": "Training steps for Run ▸ Train.",
    "device": "Where torch runs: the devices this machine really has.",
    "seed": "Random seed for weights and data: same seed, same run.",
}


class BuildPanel(QWidget):
    """Controls for every config key; writes to ``state`` (debounced) and follows it back.

    Signals: ``text_submitted(str)`` when the user asks to run their own text.
    Attributes: one control per key in ``controls`` (dict name → widget).
    """

    text_submitted = Signal(str)

    def __init__(self, state, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self._pending: dict = {}
        self._updating = False
        self._config_text: str | None = None  # the text of the config shown (not the user's draft)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.apply_pending)
        self.controls: dict[str, QWidget] = {}

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        outer.addWidget(scroll)
        inner = QWidget()
        scroll.setWidget(inner)
        lay = QVBoxLayout(inner)
        lay.setContentsMargins(4, 4, 4, 4)

        c = self.controls
        # -- network ------------------------------------------------------------------
        net, f = _group("Network")
        c["cell"] = _combo([(spec.display, name) for name, spec in CELLS.items()])
        c["activation"] = _combo([(x, x) for x in ACTIVATIONS])
        # spin boxes accept more than the config does: a value out of range reaches the config's
        # check, which refuses it with a message (a spin box would clamp it without a word)
        c["hidden_size"] = _spin(1, 10 * MAX_HIDDEN)
        c["num_layers"] = _spin(1, 10 * MAX_LAYERS)
        c["bidirectional"] = QCheckBox("both directions")
        c["init"] = _combo([(x, x) for x in INITS])
        c["init_scale"] = _dspin(0.0, 1000.0, 0.05, 2)
        fb = QWidget()
        fbl = QHBoxLayout(fb)
        fbl.setContentsMargins(0, 0, 0, 0)
        c["forget_bias_on"] = QCheckBox("set")
        c["forget_bias"] = _dspin(-1000.0, 1000.0, 0.5, 2)
        fbl.addWidget(c["forget_bias_on"])
        fbl.addWidget(c["forget_bias"], 1)
        for label, key, w in (("Cell", "cell", None), ("Activation", "activation", None),
                              ("Hidden size H", "hidden_size", None), ("Layers", "num_layers", None),
                              ("Bidirectional", "bidirectional", None), ("W_hh init", "init", None),
                              ("Init scale", "init_scale", None), ("Forget bias", "forget_bias", fb)):
            f.addRow(label, w or c[key])
        lay.addWidget(net)

        # -- task ---------------------------------------------------------------------
        task, f = _group("Task")
        c["task"] = _combo([(f"{n} ({s.shape})", n) for n, s in TASKS.items()])
        self.task_help = QLabel()
        self.task_help.setWordWrap(True)
        self.task_help.setStyleSheet("color: #555;")
        c["seq_len"] = _spin(1, 10 * MAX_SIZE)
        c["batch_size"] = _spin(1, 10 * MAX_SIZE)
        self.seq_len_note = QLabel()  # when the task runs another T than the box says
        self.seq_len_note.setObjectName("seq_len_note")
        self.seq_len_note.setWordWrap(True)
        self.seq_len_note.setStyleSheet("color: #a05a00;")
        self.seq_len_note.hide()
        c["text"] = QPlainTextEdit()
        c["text"].setPlaceholderText("Type a sentence, e.g. This morning I took my cat for a walk.")
        c["text"].setFixedHeight(60)
        self.text_button = QPushButton("Read my text")
        self.text_button.setToolTip("Run a character-level language model over the text above "
                                    "(word-level if the task is word_lm), one token per time step.")
        f.addRow("Task", c["task"])
        f.addRow(self.task_help)
        f.addRow("Sequence length T", c["seq_len"])
        f.addRow(self.seq_len_note)
        f.addRow("Batch size", c["batch_size"])
        f.addRow("Own text", c["text"])
        f.addRow("", self.text_button)
        lay.addWidget(task)

        # -- training -----------------------------------------------------------------
        train, f = _group("Training")
        c["optimizer"] = _combo([(x, x) for x in OPTIMIZERS])
        c["lr"] = _dspin(1e-6, 10000.0, 0.001, 6)
        c["clip"] = _combo([("off", "none"), ("by norm", "norm"), ("by value", "value")])
        assert [d for _, d in _items(c["clip"])] == list(CLIPS)
        c["threshold"] = _dspin(0.001, 1e6, 0.5, 3)
        c["steps"] = _spin(1, 100_000_000)
        f.addRow("Optimizer", c["optimizer"])
        f.addRow("Learning rate", c["lr"])
        f.addRow("Clipping", c["clip"])
        f.addRow("Threshold", c["threshold"])
        f.addRow("Steps", c["steps"])
        lay.addWidget(train)

        # -- run ----------------------------------------------------------------------
        run, f = _group("Run")
        c["device"] = _combo([(d, d) for d in available_devices()])
        c["seed"] = _spin(0, 2**31 - 1)
        f.addRow("Device", c["device"])
        f.addRow("Seed", c["seed"])
        lay.addWidget(run)
        lay.addStretch(1)

        tips = {**TIPS, **_cell_tips()}
        for key, w in c.items():
            tip = tips.get(key) or tips.get(key.replace("_on", ""))
            if tip:
                w.setToolTip(tip)
            _connect(w, lambda _=None, k=key: self._edited(k))
        self.text_button.clicked.connect(self._submit_text)

        self.load_config(state.config)
        state.events.subscribe("config", self.load_config)
        state.events.subscribe("trace", self.show_real_length)
        self.show_real_length(state.trace)

    # -- state → controls ---------------------------------------------------------------
    def load_config(self, cfg: RunConfig) -> None:
        """Show ``cfg`` in the controls (without triggering edits)."""
        self._updating = True
        try:
            c, m, t, tr = self.controls, cfg.model, cfg.task, cfg.train
            _set_combo(c["cell"], m.cell)
            _set_combo(c["activation"], m.activation)
            c["hidden_size"].setValue(m.hidden_size)
            c["num_layers"].setValue(m.num_layers)
            c["bidirectional"].setChecked(m.bidirectional)
            _set_combo(c["init"], m.init)
            c["init_scale"].setValue(m.init_scale)
            c["forget_bias_on"].setChecked(m.forget_bias is not None)
            c["forget_bias"].setValue(1.0 if m.forget_bias is None else m.forget_bias)
            if c["task"].findData(t.name) < 0 and t.name in TASKS:  # registered since (your data, a model)
                c["task"].addItem(f"{t.name} ({TASKS[t.name].shape})", t.name)
            _set_combo(c["task"], t.name)
            c["seq_len"].setValue(t.seq_len)
            c["batch_size"].setValue(t.batch_size)
            if t.text is not None and c["text"].toPlainText() != t.text:
                c["text"].setPlainText(t.text)
            elif t.text is None and self._config_text is not None:
                c["text"].clear()  # the run's text went away (another task or lesson); a draft stays
            self._config_text = t.text
            _set_combo(c["optimizer"], tr.optimizer)
            c["lr"].setValue(tr.lr)
            _set_combo(c["clip"], tr.clip)
            c["threshold"].setValue(tr.clip_value if tr.clip == "value" else tr.clip_norm)
            c["steps"].setValue(tr.steps)
            if c["device"].findData(cfg.device) < 0:
                c["device"].addItem(cfg.device, cfg.device)
            _set_combo(c["device"], cfg.device)
            c["seed"].setValue(min(cfg.seed, 2**31 - 1))
        finally:
            self._updating = False
        self._update_enabled(cfg)

    def _update_enabled(self, cfg: RunConfig) -> None:
        c = self.controls
        cell = cfg.model.spec
        rnn, lstm = cell.uses_activation, cell.forget_bias_gate is not None
        tips = _cell_tips()
        c["activation"].setEnabled(rnn)
        c["activation"].setToolTip(tips["activation"] if rnn else tips["activation_off"])
        c["forget_bias_on"].setEnabled(lstm)
        c["forget_bias"].setEnabled(lstm and cfg.model.forget_bias is not None)
        tip = TIPS["forget_bias"] if lstm else TIPS["forget_bias_off"]
        c["forget_bias"].setToolTip(tip)
        c["forget_bias_on"].setToolTip(tip)
        c["threshold"].setEnabled(cfg.train.clip != "none")
        spec = TASKS.get(cfg.task.name)
        shape = spec.shape if spec else ""
        self.task_help.setText(f"{spec.description} [{shape}]" if spec else "")
        # a bidirectional net cannot generate one-to-many outputs
        c["bidirectional"].setEnabled(shape != "one-to-many" or cfg.model.bidirectional)

    # -- controls → state ---------------------------------------------------------------
    def _edited(self, key: str) -> None:
        if self._updating or key == "text":
            return
        c = self.controls
        if key == "forget_bias_on":
            c["forget_bias"].setEnabled(c["forget_bias_on"].isChecked())
            self._pending["forget_bias"] = c["forget_bias"].value() if c["forget_bias_on"].isChecked() else "unset"
        elif key == "threshold" or key == "clip":
            clip = c["clip"].currentData()
            self._pending["clip"] = clip
            c["threshold"].setEnabled(clip != "none")
            if clip == "norm":
                self._pending["clip_norm"] = c["threshold"].value()
            elif clip == "value":
                self._pending["clip_value"] = c["threshold"].value()
        else:
            self._pending[key] = self.value(key)
        self._timer.start()

    def value(self, key: str):
        """The current value of control ``key`` in config terms."""
        w = self.controls[key]
        if isinstance(w, QComboBox):
            return w.currentData()
        if isinstance(w, QCheckBox):
            return w.isChecked()
        if isinstance(w, QPlainTextEdit):
            return w.toPlainText()
        return w.value()

    def apply_pending(self) -> bool:
        """Apply the edits collected so far to ``state.config`` now; False if refused."""
        self._timer.stop()
        pending, self._pending = self._pending, {}
        if not pending:
            return True
        if pending.get("forget_bias") == "unset":
            pending.pop("forget_bias")
            ok = self._set_without_forget_bias(pending)
        else:
            ok = self.state.set_config(**pending)
        if not ok:
            self.load_config(self.state.config)  # snap back to what is valid, and say so
            kept = ", ".join(f"{k} = {self._shown(k)}" for k in pending if k in self.controls)
            if kept:
                self.state.status = f"{self.state.status} — kept {kept}"
        return ok

    def _shown(self, key: str) -> str:
        value = self.value(key)
        return f"{value:g}" if isinstance(value, float) else str(value)

    def show_real_length(self, trace) -> None:
        """Say so when the task runs another T than the box shows (e.g. sentiment's sentences)."""
        cfg = self.state.config
        real = trace.seq_len if trace is not None and trace.meta.get("task") == cfg.task.name else None
        differs = real is not None and real != cfg.task.seq_len
        self.seq_len_note.setText(f"this task runs T = {real} (it sets its own length)" if differs else "")
        self.seq_len_note.setVisible(differs)

    def _set_without_forget_bias(self, pending: dict) -> bool:
        from rnnviz.core.config import ConfigError

        data = self.state.config.to_dict()
        data["model"].pop("forget_bias", None)
        try:
            cfg = RunConfig.from_dict(data).with_overrides(**pending)
        except ConfigError as exc:
            self.state.status = str(exc)
            return False
        self.state.config = cfg
        self.state.dirty = True
        return True

    def set_value(self, key: str, value) -> None:
        """Set control ``key`` as a user would (the edit is applied after the debounce)."""
        w = self.controls[key]
        if isinstance(w, QComboBox):
            i = w.findData(value)
            if i < 0:
                raise ValueError(f"{value!r} is not a choice of {key}")
            w.setCurrentIndex(i)
        elif isinstance(w, QCheckBox):
            w.setChecked(bool(value))
        elif isinstance(w, QPlainTextEdit):
            w.setPlainText(str(value))
        else:
            w.setValue(value)

    def _submit_text(self) -> None:
        self.text_submitted.emit(self.controls["text"].toPlainText())


# -- small widget helpers -------------------------------------------------------------------
def _group(title: str) -> tuple[QGroupBox, QFormLayout]:
    box = QGroupBox(title)
    form = QFormLayout(box)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    form.setContentsMargins(6, 4, 6, 4)
    return box, form


def _combo(items) -> QComboBox:
    w = QComboBox()
    for label, data in items:
        w.addItem(label, data)
    return w


def _items(w: QComboBox):
    return [(w.itemText(i), w.itemData(i)) for i in range(w.count())]


def _set_combo(w: QComboBox, data) -> None:
    i = w.findData(data)
    if i >= 0:
        w.setCurrentIndex(i)


def _spin(lo: int, hi: int) -> QSpinBox:
    w = QSpinBox()
    w.setRange(lo, hi)
    w.setKeyboardTracking(False)
    return w


def _dspin(lo: float, hi: float, step: float, decimals: int) -> QDoubleSpinBox:
    w = QDoubleSpinBox()
    w.setRange(lo, hi)
    w.setSingleStep(step)
    w.setDecimals(decimals)
    w.setKeyboardTracking(False)
    return w


def _connect(w: QWidget, slot) -> None:
    if isinstance(w, QComboBox):
        w.currentIndexChanged.connect(slot)
    elif isinstance(w, QCheckBox):
        w.toggled.connect(slot)
    elif isinstance(w, QPlainTextEdit):
        w.textChanged.connect(slot)
    else:
        w.valueChanged.connect(slot)


__all__ = ["DEBOUNCE_MS", "TIPS", "BuildPanel"]
