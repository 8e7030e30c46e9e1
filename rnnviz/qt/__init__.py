"""The Qt desktop app: main window, build panel, timeline, workers and views.

Start it with :func:`rnnviz.qt.app.run_gui` (the ``rnnviz`` command does).
"""

# Imported before anything loads PySide6, on purpose: once PySide6 is loaded, its feature hook
# reads the source of every module imported after it (~300 for networkx: ~0.1 s of start-up).
import rnnviz.core.graph  # noqa: E402, F401
