"""Files in and out of rnnviz: other frameworks' models, your own sequences, and exports.

``load_model`` opens a PyTorch, ONNX or Keras 3 file as an :class:`ImportedModel` after checking
that rnnviz's own equations reproduce the file's network to 1e-4. Optional formats need optional
packages (``pip install 'rnnviz[formats]'``); each is imported only when its file is opened.
"""

from rnnviz.io.data import SequenceData, load_sequences, load_text
from rnnviz.io.errors import DataFileError, ModelImportError, UntrustedFileError
from rnnviz.io.imported import TOLERANCE, ImportedModel
from rnnviz.io.models import MODEL_SUFFIXES, load_model

__all__ = ["DataFileError", "ImportedModel", "MODEL_SUFFIXES", "ModelImportError", "SequenceData", "TOLERANCE",
           "UntrustedFileError", "load_model", "load_sequences", "load_text"]
