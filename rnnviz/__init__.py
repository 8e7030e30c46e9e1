"""rnnviz: see how recurrent networks work.

The public, Qt-free API::

    import rnnviz
    cfg = rnnviz.ModelConfig(cell="lstm", input_size=2, hidden_size=32, output_size=1)
    model = rnnviz.build_model(cfg, device="cpu")
    x, y = rnnviz.tasks.adding_problem(seq_len=100, batch_size=16, seed=0)
    trace = rnnviz.record(model, x, y, clip_norm=1.0)
"""

from rnnviz.core import tasks
from rnnviz.core.config import ConfigError, ModelConfig, RunConfig, TaskConfig, TrainConfig, load_config
from rnnviz.core.device import resolve_device
from rnnviz.core.model import RNNModel, build_model, from_torch
from rnnviz.core.record import record
from rnnviz.core.trace import Trace, TraceFileError
from rnnviz.core.train import Trainer, train
from rnnviz.io import ImportedModel, ModelImportError, load_model
from rnnviz.notebook import show

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "ImportedModel",
    "ModelConfig",
    "ModelImportError",
    "RNNModel",
    "RunConfig",
    "TaskConfig",
    "Trace",
    "TraceFileError",
    "TrainConfig",
    "Trainer",
    "build_model",
    "from_torch",
    "load_config",
    "load_model",
    "record",
    "resolve_device",
    "show",
    "tasks",
    "train",
]
