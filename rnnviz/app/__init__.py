"""Session state and actions of the app, free of Qt (the GUI, CLI and tests share them)."""

from rnnviz.app.actions import compare_runs, record_run, user_text_run
from rnnviz.app.state import SessionState

__all__ = ["SessionState", "compare_runs", "record_run", "user_text_run"]
