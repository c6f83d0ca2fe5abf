"""Label columns for batches of texts: naming, deduplication and worker processes.

:class:`Labeller` turns texts into the label columns a job writes (one tuple
of values per text, in :attr:`Labeller.fields` order). It classifies each
distinct text once, keeping a bounded cache of recent results, and with
``jobs > 1`` spreads batches over worker processes that each hold the model
once, handing results back in input order.

>>> from triage import load_model
>>> labeller = Labeller(load_model(), input_columns=["text"])
>>> values = labeller.label(["信用卡年费没通知就扣了", "信用卡年费没通知就扣了"])
>>> values[0] == values[1], labeller.classified
(True, 1)
"""

from __future__ import annotations

import collections
import multiprocessing
import os
import signal
from typing import Any, Iterable, Iterator

from .model import prediction_fields

__all__ = ["Labeller", "output_columns", "prediction_row", "default_jobs"]

_FIELDS_PER_TARGET = ("", "_probability", "_confidence")
_MIN_PART = 250  # texts: smaller parts would cost more in per-batch set-up than they save in balance


def default_jobs() -> int:
    """All the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _free(name: str, taken: set[str]) -> str:
    while name in taken:
        name += "_pred"
    return name


def output_columns(input_columns: list[str], targets: list[str], *, with_names: bool = False,
                   extras: tuple[str, ...] = ()) -> dict[str, str]:
    """Map each added field to its output column name, never overwriting an input column.

    A target whose column names are taken gets the prefix ``<target>_pred``.

    >>> output_columns(["text", "category"], ["category", "severity"])["category"]
    'category_pred'
    """
    taken = set(input_columns)
    names: dict[str, str] = {}
    suffixes = ["", "_name", "_probability", "_confidence"] if with_names else list(_FIELDS_PER_TARGET)
    for target in targets:
        prefix = target
        while any(prefix + s in taken for s in suffixes):
            prefix += "_pred"
        for s in suffixes:
            names[target + s] = prefix + s
            taken.add(prefix + s)
    for extra in (*extras, "needs_review", "review_reason"):
        names[extra] = _free(extra, taken)
        taken.add(names[extra])
    return names


def prediction_row(prediction, names: dict[str, str], with_names: bool) -> dict[str, Any]:
    """The label columns of one prediction, under the output names chosen by :func:`output_columns`."""
    return {names[key]: value for key, value in prediction_fields(prediction, with_names).items()}


# -- worker processes -------------------------------------------------------------
_WORKER: dict[str, Any] = {}


def _start_worker(model, names, with_names) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops the pool
    _WORKER.update(model=model, names=names, with_names=with_names, fields=list(names.values()))


def _label_in_worker(texts: list) -> list[tuple]:
    return _values(_WORKER["model"], texts, _WORKER["names"], _WORKER["with_names"], _WORKER["fields"])


def _values(model, texts: list, names, with_names, fields) -> list[tuple]:
    """One tuple of label values (in ``fields`` order, the order of ``names``) per text."""
    columns = model.label_columns(texts)  # (in model batches of at most triage.model._MODEL_BATCH texts)
    return list(zip(*(columns[key] for key in names)))


class Labeller:
    """Label columns for batches of texts, each distinct text classified once, on one or several processes.

    Parameters
    ----------
    model : ComplaintClassifier
    input_columns : list of str
        The input's columns, so that added columns never overwrite them.
    jobs : int
        Worker processes (1: classify in this process).
    cache_size : int
        How many recent distinct texts keep their result (0: no deduplication).
        Bounded so that memory does not grow with the number of rows.
    """

    def __init__(self, model, input_columns: list[str], *, jobs: int = 1, cache_size: int = 100_000):
        self.model = model
        self.with_names = bool(getattr(model, "has_label_names", False))
        extras = tuple(getattr(model, "extra_fields", ()))
        self.names = output_columns(input_columns, model.target_names, with_names=self.with_names, extras=extras)
        self.fields = list(self.names.values())
        self.jobs = max(1, int(jobs))
        self.cache_size = cache_size
        self.classified = 0  # texts actually sent to the model
        self._cache: collections.OrderedDict = collections.OrderedDict()
        self._pool = None

    # -- one batch -------------------------------------------------------------
    def _unique(self, texts: list) -> tuple[list, list]:
        """Texts to classify (each once) and, per input text, its cached values or its index among them."""
        todo, where, plan = [], {}, []
        cache = self._cache
        for text in texts:
            key = text if isinstance(text, str) else None
            if key is not None and key in cache:
                cache.move_to_end(key)
                plan.append(cache[key])
            elif key is not None and key in where:
                plan.append(where[key])
            else:
                if key is not None:
                    where[key] = len(todo)
                plan.append(len(todo))
                todo.append(text)
        return todo, plan

    def _merge(self, texts: list, plan: list, computed: list[tuple]) -> list[tuple]:
        out = [computed[p] if isinstance(p, int) else p for p in plan]
        if self.cache_size:
            for text, p in zip(texts, plan):
                if isinstance(p, int) and isinstance(text, str):
                    self._cache[text] = computed[p]
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return out

    def label(self, texts: list) -> list[tuple]:
        """Label values (in :attr:`fields` order) for each text, in this process."""
        todo, plan = self._unique(texts)
        computed = _values(self.model, todo, self.names, self.with_names, self.fields) if todo else []
        self.classified += len(todo)
        return self._merge(texts, plan, computed)

    # -- a stream of batches -----------------------------------------------------
    def label_stream(self, batches: Iterable[list], text_of) -> Iterator[tuple[list, list[tuple]]]:
        """``(batch, values)`` for each batch of rows, in input order; ``text_of(row)`` gives a row's text.

        With several jobs, at most ``2 × jobs`` batches are in flight, so memory
        stays bounded however long the input is.
        """
        if self.jobs == 1:
            for batch in batches:
                yield batch, self.label([text_of(row) for row in batch])
            return
        pool = self._start_pool()
        pending: collections.deque = collections.deque()
        try:
            for batch in batches:
                texts = [text_of(row) for row in batch]
                todo, plan = self._unique(texts)
                self.classified += len(todo)
                # a batch goes out in one part per worker: the workers share it, and when the input ends the
                # last batch keeps every worker busy rather than one of them
                size = max(_MIN_PART, -(-len(todo) // self.jobs))
                parts = [pool.apply_async(_label_in_worker, (todo[i:i + size],)) for i in range(0, len(todo), size)]
                pending.append((batch, texts, plan, parts))
                while len(pending) >= 2 * self.jobs:
                    yield self._finish(pending.popleft())
            while pending:
                yield self._finish(pending.popleft())
        except BaseException:
            self.close(terminate=True)
            raise

    def _finish(self, item) -> tuple[list, list[tuple]]:
        batch, texts, plan, parts = item
        computed = [values for part in parts for values in part.get()]
        return batch, self._merge(texts, plan, computed)

    def _start_pool(self):
        if self._pool is None:
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
            if "fork" in methods and hasattr(self.model, "warm_up"):
                self.model.warm_up()  # built once here, shared by the forked workers' memory
            self._pool = context.Pool(self.jobs, initializer=_start_worker,
                                      initargs=(self.model, self.names, self.with_names))
        return self._pool

    def close(self, terminate: bool = False) -> None:
        """Stop the worker processes."""
        if self._pool is not None:
            if terminate:
                self._pool.terminate()
            else:
                self._pool.close()
            self._pool.join()
            self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close(terminate=exc[0] is not None)
