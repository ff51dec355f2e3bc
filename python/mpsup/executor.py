"""mpsup.Executor: a concurrent.futures.Executor over a supervised pool.

Each submit() is one job, sent on the pool's pipelined connections (see
mpsup.pool); its future completes when the job's record comes back. The
supervisor answers a connection's requests in order, so on each of the
connections that wait for results a future completes only after those
submitted before it there; the jobs themselves run in parallel on the
pool's workers all the same. No thread per job: one reader per
connection.
"""
import concurrent.futures
import itertools
import queue
import threading
import time
from typing import Any, Iterable, Iterator, Optional, Union

from . import codec
from .connection import Address, Error, RemoteError
from .pool import _BATCH, Function, Pool, _Operation

__all__ = ["Executor"]


class _Future(concurrent.futures.Future):
    """A future whose cancel() cancels its job in the supervisor."""

    def __init__(self, executor: "Executor") -> None:
        super().__init__()
        self._executor = executor
        self._cancel_lock = threading.Lock()
        self.job_id = None      # type: Optional[str]

    def cancel(self) -> bool:
        """Cancel the job if it has not started; True if it was."""
        if self.done():
            return self.cancelled()
        if self.job_id is None or \
                not self._executor._pool._cancel([self.job_id]):
            return False
        return self._cancelled()

    def _cancelled(self) -> bool:
        """Mark it cancelled (the supervisor cancelled its job); the
        reader and shutdown() may both get here."""
        with self._cancel_lock:
            if self.cancelled():
                return True
            if not super().cancel():
                return False
            # Wake wait() and as_completed(), as an executor's worker
            # would.
            self.set_running_or_notify_cancel()
            return True


class _FutureCall(_Operation):
    """One submit(): its record completes the future."""

    def __init__(self, pool: Pool, future: _Future) -> None:
        super().__init__(pool)
        self.future = future

    def on_submitted(self, index: int, job_id: str) -> None:
        self.future.job_id = job_id

    def on_result(self, index: int, ok: bool, value: Any) -> None:
        fut = self.future
        if isinstance(value, RemoteError) and value.type_name == "cancelled":
            fut._cancelled()
            return
        # cancel() may win the race from another thread: then it is done.
        with fut._cancel_lock:
            if fut.done():
                return
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)

    def fail(self, exc: BaseException) -> None:
        with self.future._cancel_lock:
            if not self.future.done():
                self.future.set_exception(exc)


class Executor(concurrent.futures.Executor):
    """concurrent.futures' Executor API on the mpsup pool named `pool`.

    The connection arguments are those of mpsup.Pool. Like
    ProcessPoolExecutor, functions must be importable by the workers,
    which run `python3 -m mpsup.worker --allow MODULES`.
    """

    def __init__(self, pool: str, *, address: Optional[Address] = None,
                 authkey: Optional[Union[bytes, str]] = None,
                 config: Optional[str] = None,
                 authkey_file: Optional[str] = None,
                 timeout: Optional[float] = 30.0) -> None:
        self._pool = Pool(pool, address=address, authkey=authkey,
                          config=config, authkey_file=authkey_file,
                          timeout=timeout)
        self._lock = threading.Lock()
        self._futures = set()       # type: set
        self._shutdown = False
        # submit() queues; one feeder sends what has queued up as one
        # submit_many, so a burst of submits costs a few requests.
        self._queue = queue.SimpleQueue()   # type: queue.SimpleQueue
        self._feeder = threading.Thread(target=self._feed, daemon=True,
                                        name="mpsup-submit")
        self._feeder.start()

    def submit(self, fn: Function, /, *args: Any,  # type: ignore[override]
               **kwargs: Any) -> concurrent.futures.Future:
        """Submit fn(*args, **kwargs) as a job; its future.

        TypeError or ValueError, before anything is submitted, when fn or
        an argument cannot cross (see mpsup.codec).
        """
        call = {"f": codec.reference(fn), "a": list(args)}
        if kwargs:
            call["k"] = kwargs
        return self._submit_data(codec.dumps(call))

    def _submit_data(self, data: str) -> concurrent.futures.Future:
        """Submit one job whose data is JSON text already."""
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after "
                                   "shutdown")
            fut = _Future(self)
            self._futures.add(fut)
            # Under the lock: shutdown() queues its stop after this.
            self._queue.put((_FutureCall(self._pool, fut), 0, data))
        fut.add_done_callback(self._forget)
        return fut

    def _feed(self) -> None:
        """Send the queued submits in batches until shutdown()."""
        while True:
            batch = [self._queue.get()]
            while batch[-1] is not None and len(batch) < _BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = batch[-1] is None
            if stop:
                batch.pop()
            if batch:
                try:
                    self._pool._send_jobs(batch)
                except Error as e:
                    for op, _, _ in batch:
                        op.fail(e)
            if stop:
                return

    def _forget(self, fut: concurrent.futures.Future) -> None:
        with self._lock:
            self._futures.discard(fut)

    def map(self, fn: Function, *iterables: Iterable[Any],
            timeout: Optional[float] = None,
            chunksize: int = 1) -> Iterator[Any]:
        """Like builtins.map(fn, *iterables), computed by the workers.

        chunksize > 1 sends that many calls per job. The iterator raises
        concurrent.futures.TimeoutError if a result is not there within
        timeout seconds of this call; the jobs not yet started are then
        cancelled.
        """
        if chunksize < 1:
            raise ValueError("chunksize must be >= 1.")
        if chunksize == 1:
            return super().map(fn, *iterables, timeout=timeout)
        end = None if timeout is None else time.monotonic() + timeout
        ref = codec.reference(fn)
        calls = zip(*iterables)
        # Every job is encoded before the first is submitted.
        payloads = []
        while True:
            chunk = list(itertools.islice(calls, chunksize))
            if not chunk:
                break
            payloads.append(codec.dumps({"f": ref, "s": chunk}))
        fs = [self._submit_data(d) for d in payloads]

        def results() -> Iterator[Any]:
            try:
                fs.reverse()
                while fs:
                    f = fs.pop()
                    if end is None:
                        yield from f.result()
                    else:
                        yield from f.result(end - time.monotonic())
            finally:
                for f in fs:
                    f.cancel()
        return results()

    def shutdown(self, wait: bool = True, *,
                 cancel_futures: bool = False) -> None:
        """No more submits; cancel_futures cancels the jobs not yet
        started (in the supervisor); wait waits for the others."""
        with self._lock:
            if not self._shutdown:
                self._queue.put(None)
            self._shutdown = True
            pending = [f for f in self._futures if not f.done()]
        self._feeder.join()         # every submit is sent
        if cancel_futures:
            self._pool._wait_submitted(30.0)
            by_id = {f.job_id: f for f in pending if f.job_id is not None}
            for job_id in self._pool._cancel(list(by_id)):
                by_id[job_id]._cancelled()
        if wait:
            concurrent.futures.wait(pending)
            self._pool.terminate()
        else:
            threading.Thread(target=self._close_when_done, args=(pending,),
                             daemon=True, name="mpsup-shutdown").start()

    def _close_when_done(self, pending: list) -> None:
        concurrent.futures.wait(pending)
        self._pool.terminate()
