"""The worker side of mpsup's stream pools, in Python.

Two ways to use it:

1. The runner, for mpsup.Pool and mpsup.Executor: a pool whose workers run

       [pool:py]
       type    = stream
       command = python3 -m mpsup.worker --allow tasks,pkg.sub

   answers each job by importing the function's module (on first use, and
   only if it is one of --allow or inside one) and calling the function
   with the job's arguments. A call outside --allow is refused with
   PermissionError; nothing else is imported.

2. run(handler), for a worker of your own (formerly the mpsup_worker
   module, which still works under that name):

       import mpsup.worker

       def handle(data):
           return data * 2          # any JSON-serialisable value

       mpsup.worker.run(handle)

The supervisor sends one job a line, {"id":"J","data":<JSON>}, and expects
one line back per job: {"id":"J","ok":true,"result":<JSON>} or
{"id":"J","ok":false,"error":"message"}. An exception in the handler
answers that job with ok:false and the error message (the traceback goes
to stderr, i.e. the supervisor's log). The job channel is named by
MPSUP_JOB_FDS: "stdio" (the default) or "3,4". In stdio mode the channel
is moved off fds 0 and 1 first; fd 0 then reads /dev/null and fd 1 (and
sys.stdout) writes to stderr, so print() in a handler lands in the log and
can never corrupt the protocol.

Several jobs may arrive at once (prefetch); they are handled one after the
other and their results written together, before the worker waits for more
input, or earlier when a result has waited a few milliseconds or its job
was slow.
"""

import argparse
import base64
import importlib
import itertools
import json
import os
import sys
import time
import traceback
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from . import column

__all__ = ["Worker", "run", "Runner", "main"]

_READ_SIZE = 1 << 16
_FLUSH_AFTER = 0.002        # seconds a finished result may wait for company
_FLUSH_SIZE = 1 << 16       # bytes of results that are written at once


def _encoder(default=None):
    """A compact JSON encoder; made once, as json.dumps() with arguments
    would make one per call."""
    return json.JSONEncoder(ensure_ascii=False, separators=(",", ":"),
                            allow_nan=False, default=default).encode


_plain_encode = _encoder()


def _encode(obj, encode=_plain_encode):
    """One compact JSON line (bytes) for obj; ValueError if it is not JSON.

    encode is the encoder to use (see _encoder()).
    """
    text = encode(obj)
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

    def __init__(self, in_fd: Optional[int] = None,
                 out_fd: Optional[int] = None, object_hook=None,
                 default=None) -> None:
        """The channel MPSUP_JOB_FDS names, or in_fd and out_fd.

        object_hook and default, when given, are json's hooks for the job
        lines read and the results written.
        """
        self._decode = json.JSONDecoder(object_hook=object_hook).decode
        self._encode = _encoder(default) if default else _plain_encode
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

        A pool with `ready = line` sends a worker no job before that line.
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
            self._lines = self._read_lines()

    def _read_lines(self):
        """The whole lines of the next read(s), last first; sets _eof.

        A line longer than a read (a chunk of a map is hundreds of KiB)
        is gathered in a bytearray, so it is not copied and split again
        at every read."""
        rest = self._rest
        while True:
            chunk = os.read(self.in_fd, _READ_SIZE)
            if not chunk:
                self._eof = True
                self._rest = b""
                return [bytes(rest)] if rest.strip() else []
            if b"\n" in chunk:
                break
            if not isinstance(rest, bytearray):
                rest = bytearray(rest)
            rest += chunk
        lines = chunk.split(b"\n")
        self._rest = lines.pop()
        if rest:
            lines[0] = bytes(rest) + lines[0]
        lines.reverse()                     # pop() from the end, in order
        return lines

    def _parse(self, line):
        """(id, data) of a job line, or None after answering a bad one."""
        if not line.strip():
            return None
        try:
            obj = self._decode(line.decode("utf-8"))
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
            raw = _encode({"id": job_id, "ok": True, "result": result},
                          self._encode)
        except (TypeError, ValueError) as e:
            self.fail(job_id, "result is not JSON: %s" % e)
            return
        self._queue(raw)

    def _reply_text(self, job_id, text):
        """Answer job_id with a result that is JSON text already."""
        self._queue(b'{"id":%s,"ok":true,"result":%s}\n' % (
            self._encode(job_id).encode("utf-8"), text.encode("utf-8")))

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
    open connections); with `ready = line` the worker counts as ready only
    after it returns. Returns at the end of the input (the supervisor
    closed the channel).
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


# The traceback a failed call sends back is cut to its last this many
# characters: a job's error is a record field, not a log.
_TRACEBACK_MAX = 8192
# What Runner writes before the exception's args (see mpsup.codec).
_ARGS_MARK = "\nmpsup-exception-args: "


def _bytes_hook(d):
    if len(d) == 1 and "$bytes" in d and isinstance(d["$bytes"], str):
        return base64.b64decode(d["$bytes"])
    return d


def _result_default(obj):
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return {"$bytes": base64.b64encode(bytes(obj)).decode("ascii")}
    raise TypeError("a %s cannot cross as JSON" % type(obj).__name__)


def _call_error(exc: BaseException) -> str:
    """A failed call's error: "Type: message", the traceback, the args."""
    head = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    tb = "".join(traceback.format_exception(type(exc), exc,
                                            exc.__traceback__))
    if len(tb) > _TRACEBACK_MAX:
        tb = "...\n" + tb[-_TRACEBACK_MAX:]
    text = head + "\n\n" + tb.rstrip("\n")
    try:
        args = json.dumps(list(exc.args), allow_nan=False,
                          default=_result_default)
    except (TypeError, ValueError):
        return text
    if len(args) <= _TRACEBACK_MAX:
        text += _ARGS_MARK + args
    return text


class Runner:
    """Calls the functions jobs name, from the modules allowed only.

    allow lists module names; a module is allowed if it is one of them or
    inside one (pkg.sub allows pkg.sub.x, never pkg). Each qualified name
    is looked up one attribute at a time: no part may start with "_", and
    every part but the last must be a class of an allowed module, so a
    job cannot reach what an allowed module merely imported (tasks:os).
    """

    def __init__(self, allow: Iterable[str]) -> None:
        self.allow = sorted({a for a in allow})
        for name in self.allow:
            if not all(p.isidentifier() for p in name.split(".")):
                raise ValueError("--allow %r: not a module name" % name)
            if name in ("builtins", "__main__"):
                raise ValueError("--allow %s: would let any submitter run "
                                 "eval and exec; allow your own modules"
                                 % name)
        if not self.allow:
            raise ValueError("--allow names no module")
        self._found = {}        # type: Dict[str, Callable[..., Any]]

    def allowed(self, module: str) -> bool:
        """True if module is one of --allow or inside one."""
        return any(module == a or module.startswith(a + ".")
                   for a in self.allow)

    def resolve(self, ref: str) -> Callable[..., Any]:
        """The function "module:qualname" names; PermissionError outside
        --allow, ImportError or AttributeError if it is not there."""
        fn = self._found.get(ref)
        if fn is not None:
            return fn
        if not isinstance(ref, str):
            raise TypeError("the job names no function (%r is not "
                            "\"module:qualname\")" % (ref,))
        module, _, qualname = ref.partition(":")
        if not self.allowed(module):
            raise PermissionError(
                "module %r is not allowed on this worker (--allow %s)"
                % (module, ",".join(self.allow)))
        parts = qualname.split(".")
        if not qualname or any(not p.isidentifier() or p.startswith("_")
                               for p in parts):
            raise PermissionError("%r: a function name must be a dotted "
                                  "name with no part starting with '_'"
                                  % qualname)
        obj = importlib.import_module(module)
        for i, part in enumerate(parts):
            obj = getattr(obj, part)
            owner = getattr(obj, "__module__", None)
            last = i == len(parts) - 1
            if (not last and not isinstance(obj, type)) or \
                    not isinstance(owner, str) or not self.allowed(owner):
                raise PermissionError(
                    "%s: %s is %s, not a function or class of an allowed "
                    "module (--allow %s)" % (ref, ".".join(parts[:i + 1]),
                                             "from module %r" % owner
                                             if isinstance(owner, str)
                                             else "not one",
                                             ",".join(self.allow)))
        if not callable(obj):
            raise TypeError("%s is not callable" % ref)
        self._found[ref] = obj
        return obj

    def call(self, data: Any) -> Any:
        """The result of the call (or chunk of calls) data describes."""
        if isinstance(data, dict) and "v" in data:
            return self.call_chunk(data)
        if not isinstance(data, dict) or "f" not in data:
            raise TypeError("this worker runs mpsup.Pool jobs; the job's "
                            "data is not one ({\"f\": \"module:name\", ...})")
        fn = self.resolve(data["f"])
        if "m" in data:
            return list(map(fn, data["m"]))
        if "s" in data:
            return list(itertools.starmap(fn, data["s"]))
        return fn(*data.get("a", ()), **data.get("k", {}))

    def call_chunk(self, data: Dict[str, Any]) -> Any:
        """The results of a chunk of format 2 ({"v": 2, "fn": ref, "m":
        items} or "s": [args, ...]): a packed column when they are all
        ints of 64 bits or all finite floats, else their list (see
        mpsup.column)."""
        if data["v"] != column.FORMAT:
            raise ValueError("chunk format %r: this mpsup.worker reads "
                             "formats 1 and %d only; install the client's "
                             "mpsup version on the workers"
                             % (data["v"], column.FORMAT))
        fn = self.resolve(data.get("fn"))
        if "m" in data:
            items = data["m"]
            if isinstance(items, str):
                items = column.unpack(items)
            elif not isinstance(items, list):
                raise TypeError("a chunk's \"m\" is a list or a packed "
                                "column, not %s" % type(items).__name__)
            results = list(map(fn, items))
        elif "s" in data:
            results = list(itertools.starmap(fn, data["s"]))
        else:
            raise TypeError("a chunk of format 2 has no \"m\" or \"s\"")
        packed = column.pack(results)
        return results if packed is None else packed

    def serve(self, worker: Optional[Worker] = None) -> None:
        """Answer jobs until the supervisor closes the channel."""
        if worker is None:
            worker = Worker(object_hook=_bytes_hook, default=_result_default)
        for job_id, data in worker.jobs():
            try:
                result = self.call(data)
            except Exception as e:
                worker.fail(job_id, _call_error(e))
            else:
                if type(result) is str and type(data) is dict and \
                        "v" in data:
                    # A packed column: base64, nothing to escape.
                    worker._reply_text(job_id, '"%s"' % result)
                else:
                    worker.reply(job_id, result)
        worker.close()


def main(argv: Optional[List[str]] = None) -> int:
    """python3 -m mpsup.worker --allow MODULE[,MODULE...]"""
    ap = argparse.ArgumentParser(
        prog="python3 -m mpsup.worker",
        description="Run the functions mpsup.Pool and mpsup.Executor jobs "
        "name, from the allowed modules only (a stream pool's command).")
    ap.add_argument("--allow", action="append", required=True,
                    metavar="MODULE[,MODULE...]",
                    help="modules whose functions jobs may call (and the "
                    "modules inside them); repeatable")
    ap.add_argument("--path", action="append", default=[], metavar="DIR",
                    help="a folder to import the modules from (before "
                    "sys.path); repeatable")
    args = ap.parse_args(argv)
    allow = [m.strip() for a in args.allow for m in a.split(",")
             if m.strip()]
    try:
        runner = Runner(allow)
    except ValueError as e:
        ap.error(str(e))
    sys.path[:0] = [os.path.abspath(p) for p in args.path]
    try:
        runner.serve()
    except BrokenPipeError:
        pass            # the supervisor is gone; nobody is left to answer
    return 0


if __name__ == "__main__":
    sys.exit(main())
