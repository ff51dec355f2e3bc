"""How a feeder sends the jobs of a map or imap call: a window that bounds
the jobs in flight, and the batch of jobs held back to go out together.
Used by mpsup.pool; nothing here is public."""
import threading
from typing import Any, List, Optional, Tuple

from .connection import Error

__all__ = []    # type: List[str]

# At most this many jobs, or about this many bytes, go in one
# submit_many (the supervisor's max_message is 16 MiB by default).
_BATCH = 256
_BATCH_BYTES = 1 << 20
# A batch that has waited this long for company is sent as it is.
_BATCH_WAIT = 0.005


class _Window:
    """A count of jobs in flight that a feeder waits on; abort() frees it.

    A feeder that found it full waits until a quarter of it (at most a
    batch) is free again: it wakes once per batch, not once per job.
    """

    def __init__(self, size: int) -> None:
        self.free = size
        self.resume = max(1, min(size // 4, _BATCH))
        self.aborted = False
        self.cond = threading.Condition()

    def try_take(self) -> bool:
        with self.cond:
            if self.free > 0 and not self.aborted:
                self.free -= 1
                return True
            return False

    def take(self) -> bool:
        """Wait for a free slot; False once aborted."""
        with self.cond:
            if self.free <= 0:
                while self.free < self.resume and not self.aborted:
                    self.cond.wait()
            if self.aborted:
                return False
            self.free -= 1
            return True

    def give(self, n: int = 1) -> None:
        with self.cond:
            self.free += n
            if self.free == self.resume:
                self.cond.notify()

    def abort(self) -> None:
        with self.cond:
            self.aborted = True
            self.cond.notify_all()


class _Held:
    """The jobs a feeder holds back to send together: sent when there are
    _BATCH of them or _BATCH_BYTES, or by a timer _BATCH_WAIT after the
    first, so a job is never held while the input is slow to yield the
    next one (a queue, a socket)."""

    def __init__(self, pool: Any, op: Any) -> None:
        """Hold jobs of op (a pool's _Operation) for pool._send()."""
        self._pool = pool
        self._op = op
        self._lock = threading.Lock()
        self._jobs = []         # type: List[Tuple[int, str]]
        self._size = 0
        self._timer = None      # type: Optional[threading.Timer]

    def add(self, index: int, data: str) -> None:
        """Hold job index; Error if sending failed."""
        with self._lock:
            self._jobs.append((index, data))
            self._size += len(data)
            if len(self._jobs) >= _BATCH or self._size >= _BATCH_BYTES:
                self._send()
            elif self._timer is None:
                self._timer = threading.Timer(_BATCH_WAIT, self._due)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        """Send what is held now; Error if sending failed."""
        with self._lock:
            self._send()

    def close(self) -> None:
        """Stop the timer; what is still held is dropped."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._jobs = []

    def _send(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._jobs:
            jobs, self._jobs, self._size = self._jobs, [], 0
            self._pool._send(self._op, jobs)

    def _due(self) -> None:
        with self._lock:
            self._timer = None
            try:
                self._send()
            except Error as e:
                self._op.fail(e)
