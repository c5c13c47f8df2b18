"""One background thread that runs submitted calls in order.

The store hashes (BLAKE3) and fsyncs on a second thread.  ``concurrent.futures``
would do, but importing it costs ~9 ms (it pulls in ``logging``) on every CLI
start, a quarter of mvc's own import time; this is the part of it mvc uses.
"""
from __future__ import annotations

import os
import threading
import weakref
from collections import deque


class Task:
    """A submitted call; ``result()`` waits for it and returns its value or raises its error."""

    __slots__ = ("fn", "args", "done", "value", "error")

    def __init__(self, fn, args):
        self.fn, self.args = fn, args
        self.done = threading.Event()
        self.value = self.error = None

    def run(self) -> None:
        try:
            self.value = self.fn(*self.args)
        except BaseException as e:  # noqa: BLE001 - handed to whoever waits for the result
            self.error = e
        finally:
            self.fn = self.args = None  # drop references (e.g. a mapped piece) as soon as it ran
            self.done.set()

    def result(self):
        self.done.wait()
        if self.error is not None:
            raise self.error
        return self.value


class Worker:
    """Calls run on one daemon thread, started on the first ``submit``, in submission order.

    A forked child starts afresh (its own thread on its first ``submit``):
    ``fork`` copies the worker but not its thread, so a child of a process
    that had logged a model (a PyTorch DataLoader worker, say) would otherwise
    queue its calls for a thread that does not exist, and wait for ever."""

    _all: "weakref.WeakSet[Worker]" = weakref.WeakSet()

    def __init__(self, name: str):
        self.name = name
        self._reset()
        Worker._all.add(self)

    def _reset(self) -> None:
        self.tasks: deque = deque()
        self.ready = threading.Condition()  # new: a parent's thread may have held the old one's lock
        self.thread: threading.Thread | None = None

    def submit(self, fn, *args) -> Task:
        task = Task(fn, args)
        with self.ready:
            if self.thread is None:
                self.thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self.thread.start()
            self.tasks.append(task)
            self.ready.notify()
        return task

    def _loop(self) -> None:
        while True:
            with self.ready:
                while not self.tasks:
                    self.ready.wait()
                task = self.tasks.popleft()
            if task is None:
                return
            task.run()

    def shutdown(self, wait: bool = True) -> None:
        """Stop after the calls already submitted (``wait``: until they ran)."""
        with self.ready:
            if self.thread is None:
                return
            self.tasks.append(None)
            self.ready.notify()
        if wait:
            self.thread.join()


def _after_fork_in_child() -> None:
    for worker in list(Worker._all):
        worker._reset()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
