"""The window's views, created lazily: a tab's view is built the first time it is shown."""

from __future__ import annotations

from collections.abc import Mapping


class LazyViews(Mapping):
    """The window's views, name → TraceView, each created the first time it is needed.

    Building every view up front costs a noticeable part of start-up (a dozen pyqtgraph plots
    for tabs nobody looks at yet), so a view is made on first access: ``views["gates"]``
    creates it, and ``on_create(name, view)`` (the window) puts it in its tab and feeds it the
    current state, so it is a real, up-to-date view from the first moment. ``in``, ``len`` and
    iterating the names never create anything; ``values()`` / ``items()`` do (they return every
    view). :meth:`created` lists only the views made so far. ``on_access(name, view)`` runs
    whenever an existing view is handed out: the window brings a view it was not feeding (not in
    front) up to date there, so ``views[name]`` always shows the current state; :meth:`peek` does not.
    """

    def __init__(self, classes: dict, on_create=None, on_access=None):
        self._classes = dict(classes)
        self._views: dict = {}
        self._on_create = on_create
        self._on_access = on_access

    def __getitem__(self, name: str):
        view = self._views.get(name)
        if view is None:
            cls = self._classes[name]  # KeyError for an unknown name, as a dict would
            view = self._views[name] = cls()
            if self._on_create is not None:
                self._on_create(name, view)
        elif self._on_access is not None:
            self._on_access(name, view)
        return view

    def peek(self, name: str):
        """View ``name`` as it is (None if it was never created): nothing is created or updated."""
        return self._views.get(name)

    def created_names(self) -> list[str]:
        """The names of the views made so far, in creation order."""
        return list(self._views)

    def __iter__(self):
        return iter(self._classes)

    def __len__(self) -> int:
        return len(self._classes)

    def __contains__(self, name) -> bool:
        return name in self._classes

    def is_created(self, name: str) -> bool:
        """True once view ``name`` exists (nothing is created by asking)."""
        return name in self._views

    def created(self) -> list:
        """The views made so far (a snapshot list), in creation order."""
        return list(self._views.values())

    def title(self, name: str) -> str:
        """The tab title of view ``name`` without creating it."""
        view = self._views.get(name)
        return (view if view is not None else self._classes[name]).title


__all__ = ["LazyViews"]
