"""Write mpsup stream-pool workers in Python (standard library only, 3.8+).

The supervisor sends one job a line, {"id":"J","data":<JSON>}, and expects
one line back per job: {"id":"J","ok":true,"result":<JSON>} or
{"id":"J","ok":false,"error":"message"}. run() does all of it:

    import mpsup_worker

    def handle(data):
        return data * 2          # any JSON-serialisable value

    mpsup_worker.run(handle)

An exception in the handler answers that job with ok:false and the error
message (the traceback goes to stderr, i.e. the supervisor's log). The job
channel is named by MPSUP_JOB_FDS: "stdio" (the default) or "3,4". In stdio
mode the channel is moved off fds 0 and 1 first; fd 0 then reads /dev/null
and fd 1 (and sys.stdout) writes to stderr, so print() in a handler lands
in the log and can never corrupt the protocol.

A pool with `ready = line` sends a worker no job before it writes
{"ready":true}; run(handler, setup=load) calls load() first and says ready
after it returns (a Worker says so on its own when asked for its first job,
or earlier with ready()). In pools without it nothing is written.

Several jobs may arrive at once (prefetch); they are handled one after the
other and their results written together, before the worker waits for more
input, or earlier when a result has waited a few milliseconds or its job
was slow.
"""

import json
import os
import sys
import time
import traceback

__all__ = ["Worker", "run"]

_READ_SIZE = 1 << 16
_FLUSH_AFTER = 0.002        # seconds a finished result may wait for company
_FLUSH_SIZE = 1 << 16       # bytes of results that are written at once


def _encode(obj):
    """One compact JSON line (bytes) for obj; ValueError if it is not JSON."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False)
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates (e.g. from os.fsdecode) are not UTF-8: U+FFFD them.
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        raw = text.encode("utf-8")
    return raw + b"\n"


def _open_channel():
    """Return (in_fd, out_fd) for the job channel named by MPSUP_JOB_FDS."""
    mode = os.environ.get("MPSUP_JOB_FDS", "") or "stdio"
    if mode == "stdio":
        try:
            sys.stdout.flush()
        except (AttributeError, OSError, ValueError):
            pass
        in_fd = os.dup(0)           # new fds are close-on-exec (PEP 446)
        out_fd = os.dup(1)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.dup2(2, 1)
        sys.stdout = open(1, "w", buffering=1, closefd=False,
                          encoding="utf-8", errors="backslashreplace")
        return in_fd, out_fd
    try:
        in_fd, out_fd = (int(x) for x in mode.split(","))
    except ValueError:
        raise ValueError("MPSUP_JOB_FDS=%s: want 'stdio' or 'IN,OUT'" % mode)
    if in_fd < 3 or out_fd < 3:
        raise ValueError("MPSUP_JOB_FDS=%s: fds must be 3 or above" % mode)
    os.set_inheritable(in_fd, False)
    os.set_inheritable(out_fd, False)
    try:
        sys.stdout.reconfigure(line_buffering=True)     # stdout is the log
    except (AttributeError, ValueError):
        pass
    return in_fd, out_fd


class Worker:
    """The job channel of one worker: iterate jobs(), answer each one."""

    def __init__(self, in_fd=None, out_fd=None):
        if in_fd is None:
            in_fd, out_fd = _open_channel()
        self.in_fd = in_fd
        self.out_fd = out_fd if out_fd is not None else in_fd
        self._pending = []
        self._pending_size = 0
        self._pending_since = 0.0
        self._handed = 0.0
        self._lines = []
        self._rest = b""
        self._eof = False
        self._ready_sent = False

    def ready(self):
        """Say {"ready":true}, once, if the pool asked (MPSUP_READY=line).

        Call it when set-up is over; jobs() calls it if you did not.
        """
        if self._ready_sent:
            return
        self._ready_sent = True
        if os.environ.get("MPSUP_READY") == "line":
            self._queue(b'{"ready":true}\n')
            self.flush()

    def jobs(self):
        """Yield (id, data) for every job until the input ends.

        Lines that are not valid jobs are answered (or, without an id,
        logged) here. Results are written before the generator blocks.
        """
        self.ready()
        while True:
            while self._lines:
                line = self._lines.pop()
                job = self._parse(line)
                if job is not None:
                    now = time.monotonic()
                    # Write what waits if it waited long, or if the last
                    # job was slow: then a write costs nothing in comparison.
                    if self._pending and (
                            now - self._pending_since >= _FLUSH_AFTER or
                            now - self._handed >= _FLUSH_AFTER):
                        self.flush()
                    self._handed = now
                    yield job
            if self._eof:
                return
            self.flush()
            chunk = os.read(self.in_fd, _READ_SIZE)
            if not chunk:
                self._eof = True
                lines = [self._rest] if self._rest.strip() else []
                self._rest = b""
            else:
                lines = (self._rest + chunk).split(b"\n")
                self._rest = lines.pop()
            lines.reverse()                 # pop() from the end, in order
            self._lines = lines

    def _parse(self, line):
        """(id, data) of a job line, or None after answering a bad one."""
        if not line.strip():
            return None
        try:
            obj = json.loads(line)
        except ValueError as e:
            self._refuse(line, None, "malformed job line: %s" % e)
            return None
        if not isinstance(obj, dict):
            self._refuse(line, None, "job line is not a JSON object")
            return None
        job_id = obj.get("id")
        if not isinstance(job_id, str) or not job_id:
            self._refuse(line, None, "job has no usable id")
            return None
        if "data" not in obj:
            self._refuse(line, job_id, "job has no data")
            return None
        return job_id, obj["data"]

    def _refuse(self, line, job_id, message):
        print("mpsup_worker: %s: %r" % (message, line[:200]), file=sys.stderr)
        if job_id is not None:
            self.fail(job_id, message)

    def _queue(self, raw):
        if not self._pending:
            self._pending_since = time.monotonic()
        self._pending.append(raw)
        self._pending_size += len(raw)
        if self._pending_size >= _FLUSH_SIZE:
            self.flush()

    def reply(self, job_id, result):
        """Answer job_id with result; a result that is not JSON fails it."""
        try:
            raw = _encode({"id": job_id, "ok": True, "result": result})
        except (TypeError, ValueError) as e:
            self.fail(job_id, "result is not JSON: %s" % e)
            return
        self._queue(raw)

    def fail(self, job_id, message):
        """Answer job_id with ok:false and message."""
        self._queue(_encode({"id": job_id, "ok": False, "error": str(message)}))

    def flush(self):
        """Write every pending result."""
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending = []
        self._pending_size = 0
        view = memoryview(data)
        while view:
            n = os.write(self.out_fd, view)
            view = view[n:]

    def close(self):
        """Flush and close the channel."""
        try:
            self.flush()
        finally:
            os.close(self.in_fd)
            if self.out_fd != self.in_fd:
                os.close(self.out_fd)


def _describe(exc):
    text = str(exc)
    name = type(exc).__name__
    return "%s: %s" % (name, text) if text else name


def run(handler, setup=None):
    """Call handler(data) for each job and answer with what it returns.

    setup, if given, is called once before the first job (load a model,
    open connections); the worker counts as ready only after it returns.
    Returns at the end of the input (the supervisor closed the channel).
    """
    worker = Worker()
    try:
        if setup is not None:
            setup()
        worker.ready()
        for job_id, data in worker.jobs():
            try:
                result = handler(data)
            except Exception as e:      # the job fails, not the worker
                traceback.print_exc(file=sys.stderr)
                worker.fail(job_id, _describe(e))
            else:
                worker.reply(job_id, result)
        worker.close()
    except BrokenPipeError:
        # The supervisor is gone; there is nobody left to answer.
        sys.exit(0)
