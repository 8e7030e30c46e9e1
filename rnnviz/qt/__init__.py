"""The Qt desktop app: main window, build panel, timeline, workers and views.

Start it with :func:`rnnviz.qt.app.run_gui` (the ``rnnviz`` command does).
"""
