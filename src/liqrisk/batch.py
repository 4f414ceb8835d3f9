"""Executors with one verb, ``imap_chunks(fn, chunks)`` (results in chunk order, as they are
taken; ``map_chunks`` = their list).

* :class:`LocalExecutor` — in-process, sequential (default);
* :class:`ProcessExecutor` — stdlib ``concurrent.futures.ProcessPoolExecutor`` (spawned workers);
* :class:`DaskExecutor` — Dask distributed: ``Client(address)`` or, without an address, a
  ``LocalCluster`` it starts (and closes in :meth:`close`). Dask is the optional ``dask`` extra.

Submit coarse chunks (hundreds of accounts or scenarios each), never one task per item.
``fn`` must be picklable (a module-level function or a ``functools.partial`` of one) for the
process and Dask executors; results are identical on every executor because each chunk carries
its own seeds. ``imap_chunks`` takes ``chunks`` lazily and keeps at most a window of them in
flight (two per worker), so a book of any size streams through in bounded memory.
"""
from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Callable, Iterable, Iterator, Protocol


ENGINES = ("local", "process", "dask")
CONNECT_TIMEOUT = "10s"


class SchedulerUnreachable(ValueError):
    """The Dask scheduler address does not answer."""


class Executor(Protocol):
    def imap_chunks(self, fn: Callable, chunks: Iterable) -> Iterator: ...

    def map_chunks(self, fn: Callable, chunks: Iterable) -> list: ...

    def close(self) -> None: ...


class LocalExecutor:
    """Run chunks one after another in this process."""

    def imap_chunks(self, fn, chunks) -> Iterator:
        return (fn(c) for c in chunks)

    def map_chunks(self, fn, chunks) -> list:
        return list(self.imap_chunks(fn, chunks))

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class ProcessExecutor(LocalExecutor):
    """A stdlib process pool of ``n_workers`` processes."""

    def __init__(self, n_workers: int | None = None):
        # spawn, not fork: the parent may already run numba's OpenMP threads (fork is unsafe)
        n_workers = n_workers or os.cpu_count() or 1
        self.pool = ProcessPoolExecutor(max_workers=n_workers, mp_context=get_context("spawn"))
        self.window = 2 * n_workers

    def imap_chunks(self, fn, chunks) -> Iterator:
        return _in_order((self.pool.submit(fn, c) for c in chunks), self.window)

    def close(self) -> None:
        self.pool.shutdown()


class DaskExecutor(LocalExecutor):
    """Dask distributed: connect to ``address`` or start a ``LocalCluster(n_workers, 1 thread,
    processes=True)``; ``client`` may be given instead (it is then not closed here)."""

    def __init__(self, address: str | None = None, n_workers: int = 2, client=None):
        from dask.distributed import Client, LocalCluster
        self.cluster = None
        self.own = client is None
        if client is None:
            if address is None:
                self.cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                            dashboard_address=None)
                client = Client(self.cluster)
            else:
                try:
                    client = Client(address, timeout=CONNECT_TIMEOUT)
                except (OSError, TimeoutError) as e:
                    raise SchedulerUnreachable(
                        f"--scheduler {address}: cannot reach the Dask scheduler within "
                        f"{CONNECT_TIMEOUT} ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
        self.client = client

    def imap_chunks(self, fn, chunks) -> Iterator:
        window = 2 * max(sum(self.client.nthreads().values()), 1)
        return _in_order((self.client.submit(fn, c, pure=False) for c in chunks), window)

    def close(self) -> None:
        if self.own:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def _in_order(futures: Iterator, window: int) -> Iterator:
    """The results of ``futures`` (submitted as they are drawn) in order, at most ``window`` in
    flight."""
    pending = deque()
    for f in futures:
        pending.append(f)
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def get_executor(engine: str = "local", scheduler: str | None = None, n_workers: int = 2):
    """``local`` | ``process`` | ``dask`` (``scheduler`` = Dask scheduler address)."""
    if engine == "local":
        return LocalExecutor()
    if engine == "process":
        return ProcessExecutor(n_workers)
    if engine == "dask":
        return DaskExecutor(scheduler, n_workers)
    raise ValueError(f"unknown engine '{engine}' (local | process | dask)")


def account_chunks(n_accounts: int, size: int) -> list[tuple[int, int]]:
    """[start, stop) ranges of ``size`` accounts (coarse chunks: one task per range)."""
    return [(a, min(a + size, n_accounts)) for a in range(0, n_accounts, size)] or [(0, 0)]
