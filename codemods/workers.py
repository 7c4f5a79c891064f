"""Worker processes that keep what they computed from one phase of a run to the next.

A run analyses its candidate files (the facts phase), merges their facts, then migrates them. Each
worker owns a share of the files: the one that analysed a file keeps that analysis and migrates the
file later, so a file is parsed and analysed once per run however many phases need it, and the
whole tree's solution is computed once per worker, not once per file.

A phase is a method of the worker's session, one argument sent once per worker (the index), and
items; each item's result streams back as it is done (for progress) and `run` returns them in item
order. `Local` is the same in this process (one core, or too few files for processes to pay).

Workers never outlive the run: `close()` (and leaving the `with` block, also on an exception or an
interrupt) stops them; a worker whose parent is gone stops at its next message.
"""

from __future__ import annotations

import multiprocessing
import signal
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any, Generic, TypeVar

T = TypeVar("T")

Progress = Callable[[int], None]


class WorkerError(RuntimeError):
    """A worker failed outside the engine (which never raises): it died, or a session method raised."""


def _serve(conn: Connection, factory: Callable[[], Any]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what an interrupt stops
    session = factory()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if message is None:
            return
        method, arg, batch = message
        call = getattr(session, method)
        try:
            for number, item in batch:
                try:
                    conn.send((number, call(item, arg), None))
                except Exception:  # noqa: BLE001 - reported by the parent, with the item
                    conn.send((number, None, traceback.format_exc()))
            conn.send(None)
        except (BrokenPipeError, OSError):
            return


class Calls:
    """The session of a stateless map: `call(item, fn)` is `fn(item)`."""

    @staticmethod
    def call(item: Any, fn: Callable[[Any], Any]) -> Any:
        return fn(item)


class Local(Generic[T]):
    """The session in this process (same interface as `Pool`)."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self.session = factory()

    def run(self, method: str, arg: Any, items: Sequence[Any], keys: Sequence[str] = (),
            weights: Sequence[int] = (), progress: Progress | None = None) -> list[Any]:
        call = getattr(self.session, method)
        out = []
        for item in items:
            out.append(call(item, arg))
            if progress:
                progress(1)
        return out

    def close(self) -> None:
        pass

    def __enter__(self) -> Local[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Pool(Generic[T]):
    """`jobs` worker processes, each with its own session from `factory` (a picklable callable)."""

    def __init__(self, factory: Callable[[], T], jobs: int) -> None:
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        self.owner: dict[str, int] = {}  # item key -> the worker that has it
        self.load = [0] * jobs
        self.workers: list[tuple[Any, Connection]] = []
        try:
            for _ in range(jobs):
                mine, theirs = context.Pipe()
                process = context.Process(target=_serve, args=(theirs, factory), daemon=True)
                process.start()
                theirs.close()
                self.workers.append((process, mine))
        except BaseException:
            self.close()
            raise

    def _assign(self, keys: Sequence[str] | None, weights: Sequence[int]) -> list[int]:
        """Each item's worker: the one that already has it (by key), else the least loaded (biggest
        items first). Items without keys are not remembered (a stateless map)."""
        where = [self.owner.get(key, -1) for key in keys] if keys else [-1] * len(weights)
        load = self.load if keys else [0] * len(self.load)
        for n in sorted((n for n, w in enumerate(where) if w < 0), key=lambda n: -weights[n]):
            where[n] = min(range(len(load)), key=load.__getitem__)
            load[where[n]] += weights[n]
            if keys:
                self.owner[keys[n]] = where[n]
        return where

    def run(self, method: str, arg: Any, items: Sequence[Any], keys: Sequence[str] = (),
            weights: Sequence[int] = (), progress: Progress | None = None) -> list[Any]:
        keys = list(keys)
        weights = list(weights) or [1] * len(items)
        where = self._assign(keys or None, weights)
        batches: list[list[tuple[int, Any]]] = [[] for _ in self.workers]
        for number, item in enumerate(items):
            batches[where[number]].append((number, item))
        busy = {}
        for worker, batch in enumerate(batches):
            if batch:
                self.workers[worker][1].send((method, arg, batch))
                busy[self.workers[worker][1]] = worker
        out: list[Any] = [None] * len(items)
        while busy:
            for conn in wait(list(busy)):
                try:
                    message = conn.recv()
                except (EOFError, OSError):
                    raise WorkerError(f"a worker process died during the {method} phase") from None
                if message is None:
                    del busy[conn]
                    continue
                number, value, error = message
                if error is not None:
                    raise WorkerError(f"{method} failed on {keys[number] if keys else items[number]!r}:\n{error}")
                out[number] = value
                if progress:
                    progress(1)
        return out

    def close(self) -> None:
        for process, conn in self.workers:
            try:
                conn.send(None)
            except (OSError, ValueError):
                pass
        for process, conn in self.workers:
            process.join(timeout=2)
            if process.is_alive():
                process.terminate()
                process.join(timeout=2)
            if process.is_alive():
                process.kill()
                process.join()
            conn.close()
        self.workers = []

    def stop(self) -> None:
        """Stop every worker now (an interrupt): no waiting for the item at hand."""
        for process, _ in self.workers:
            if process.is_alive():
                process.kill()
        self.close()

    def __enter__(self) -> Pool[T]:
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        self.stop() if kind is not None else self.close()
