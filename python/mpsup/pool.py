"""mpsup.Pool: multiprocessing.Pool's API over a supervised mpsup pool.

The pool's workers run `python3 -m mpsup.worker --allow ...` (see
mpsup.worker); this side turns each call, or each chunk of calls, into a
job. Jobs go out as submit_many requests on one pipelined connection;
once their ids are back, a waiting result request per job brings each
record back as the job ends. Input is read by one feeder thread per
map/imap call, which keeps at most `window` jobs in flight (submitted and
not yet taken by the caller), so memory stays flat over endless input.

Semantics follow multiprocessing.Pool: map and imap keep input order;
AsyncResult.get(timeout) raises multiprocessing.TimeoutError; the
function's exception is raised again in the caller (see
mpsup.codec.exception_from_record); the input iterable's exception reaches
the caller where multiprocessing would raise it.
"""
import collections
import json
import multiprocessing
import re
import threading
import time
import traceback
from typing import (Any, Callable, Dict, Iterable, Iterator, List, Optional,
                    Tuple, Union)

from . import codec
from .connection import Address, Channel, Error, check_reply, resolve
from .feeding import _BATCH, _Held, _Window

__all__ = ["Pool", "AsyncResult", "ApplyResult", "MapResult",
           "IMapIterator", "DEFAULT_WINDOW"]

# Jobs in flight per map/imap call unless Pool(window=) says otherwise.
DEFAULT_WINDOW = 1024
# map()'s default chunksize is at most this many items (see
# Pool._default_chunksize).
MAP_CHUNK = 8192
# Connections that wait for results, unless Pool(connections=) says.
DEFAULT_CONNECTIONS = 2

Function = Union[Callable[..., Any], str]

# A job id that needs no escaping in JSON.
_PLAIN_ID = re.compile(r"[0-9A-Za-z_.:-]+\Z")


class _Operation:
    """What a call is waiting for: results by index, or the first error.

    on_result(index, ok, value) runs in the connection's reader thread
    (or the feeder's, for input errors); subclasses keep the results.
    """

    # Its jobs are chunks of format 2 (see mpsup.codec), whose results
    # are read by codec.chunk_result().
    chunked = False

    def __init__(self, pool: "Pool") -> None:
        self._pool = pool
        self._cond = threading.Condition()
        self.window = None      # type: Optional[_Window]

    def chunk_len(self, index: int) -> Optional[int]:
        """How many results chunk index has (None: not known)."""
        return None

    def on_result(self, index: int, ok: bool, value: Any) -> None:
        raise NotImplementedError

    def on_length(self, n: int) -> None:
        """The input ended after n jobs."""

    def on_submitted(self, index: int, job_id: str) -> None:
        """Job index was accepted as job_id."""

    def fail(self, exc: BaseException) -> None:
        """The whole call fails (the connection is lost, a submit was
        refused)."""
        raise NotImplementedError


class ApplyResult(_Operation):
    """The result of apply_async(), as multiprocessing's AsyncResult."""

    def __init__(self, pool: "Pool", callback: Optional[Callable[[Any], Any]],
                 error_callback: Optional[Callable[[BaseException], Any]]
                 ) -> None:
        super().__init__(pool)
        self._callback = callback
        self._error_callback = error_callback
        self._event = threading.Event()
        self._finished = False
        self._success = False
        self._value = None      # type: Any

    def ready(self) -> bool:
        """True once the call has finished."""
        return self._event.is_set()

    def successful(self) -> bool:
        """True if it finished without raising; ValueError before then."""
        if not self.ready():
            raise ValueError("%r not ready" % self)
        return self._success

    def wait(self, timeout: Optional[float] = None) -> None:
        """Wait until the result is ready or timeout seconds pass."""
        self._event.wait(timeout)

    def get(self, timeout: Optional[float] = None) -> Any:
        """The result; its exception raised again if the call raised;
        multiprocessing.TimeoutError if it is not ready within timeout."""
        self.wait(timeout)
        if not self.ready():
            raise multiprocessing.TimeoutError
        if self._success:
            return self._value
        raise self._value

    def _finish(self, ok: bool, value: Any) -> None:
        # Two connections' readers may fail it at once: the first wins.
        with self._cond:
            if self._finished:
                return
            self._finished = True
            self._success, self._value = ok, value
        if not ok and self.window is not None:
            self.window.abort()         # submit nothing more for it
        cb = self._callback if ok else self._error_callback
        if cb is not None:
            try:
                cb(value)
            except Exception:
                # multiprocessing lets a callback's exception kill its
                # result thread; here it must not stop other results.
                traceback.print_exc()
        self._event.set()

    def on_result(self, index: int, ok: bool, value: Any) -> None:
        """The call's one result (or exception) came: finish."""
        self._finish(ok, value)

    def fail(self, exc: BaseException) -> None:
        """The call failed as a whole: finish with exc."""
        self._finish(False, exc)


AsyncResult = ApplyResult


class MapResult(ApplyResult):
    """The result of map_async()/starmap_async(): a list in input order,
    or the first exception to arrive."""

    chunked = True

    def __init__(self, pool: "Pool", n_items: int, chunksize: int,
                 callback: Optional[Callable[[Any], Any]],
                 error_callback: Optional[Callable[[BaseException], Any]]
                 ) -> None:
        super().__init__(pool, callback, error_callback)
        self._chunksize = chunksize
        self._n = n_items
        self._items = [None] * n_items      # type: List[Any]
        self._left = -(-n_items // chunksize) if n_items else 0
        if self._left == 0:
            self._finish(True, [])

    def chunk_len(self, index: int) -> Optional[int]:
        """Chunk index has chunksize results, the last one what is left."""
        return min(self._chunksize, self._n - index * self._chunksize)

    def on_result(self, index: int, ok: bool, value: Any) -> None:
        """Chunk index came: store its items; finish on the last one, or
        on the first exception."""
        if self.window is not None:
            self.window.give()
        if not ok:
            self._finish(False, value)
            return
        with self._cond:
            start = index * self._chunksize
            self._items[start:start + len(value)] = value
            self._left -= 1
            done = self._left == 0
        if done:
            self._finish(True, self._items)


class IMapIterator(_Operation):
    """The iterator imap() and imap_unordered() return.

    next(timeout) raises multiprocessing.TimeoutError when no result comes
    within timeout seconds.
    """

    def __init__(self, pool: "Pool", ordered: bool, chunksize: int) -> None:
        super().__init__(pool)
        self._ordered = ordered
        self._chunksize = chunksize
        self.chunked = chunksize > 1
        # (index, items) of a last chunk shorter than chunksize, set by
        # the feeder before it is sent.
        self.short = None       # type: Optional[Tuple[int, int]]
        self._arrived = {}      # type: Dict[int, Tuple[bool, Any]]
        self._queue = collections.deque()   # type: collections.deque
        self._next_chunk = 0    # the next chunk index to take (ordered)
        self._taken = 0         # chunks taken (either order)
        self._length = None     # type: Optional[int]
        self._items = collections.deque()   # the chunk being yielded
        self._failed = None     # type: Optional[BaseException]
        self._stopped = False

    def __iter__(self) -> "IMapIterator":
        return self

    def chunk_len(self, index: int) -> Optional[int]:
        """Every chunk has chunksize results but a short last one."""
        short = self.short
        return short[1] if short is not None and short[0] == index \
            else self._chunksize

    def on_result(self, index: int, ok: bool, value: Any) -> None:
        """Chunk index came: keep it for next()."""
        # The reader wakes the caller (wake()) once it has read all it
        # has; the feeder's input error comes with on_length().
        with self._cond:
            if self._ordered:
                self._arrived[index] = (ok, value)
            else:
                self._queue.append((ok, value))
        self._pool._dirty.add(self)

    def wake(self) -> None:
        """Wake a next() that waits for results."""
        with self._cond:
            self._cond.notify()

    def on_length(self, n: int) -> None:
        """The input had n chunks: next() stops after them."""
        with self._cond:
            self._length = n
            self._cond.notify()
        self._pool._dirty.discard(self)

    def fail(self, exc: BaseException) -> None:
        """next() raises exc once the results that came are taken."""
        with self._cond:
            if self._failed is None:
                self._failed = exc
            self._cond.notify()
        if self.window is not None:
            self.window.abort()

    def _take_chunk(self, deadline: Optional[float]) -> Tuple[bool, Any]:
        """The next chunk's (ok, value); StopIteration at the end."""
        with self._cond:
            while True:
                if self._ordered and self._next_chunk in self._arrived:
                    got = self._arrived.pop(self._next_chunk)
                    self._next_chunk += 1
                    break
                if not self._ordered and self._queue:
                    got = self._queue.popleft()
                    break
                if self._length is not None and self._taken >= self._length:
                    raise StopIteration
                if self._failed is not None:
                    self._stopped = True
                    raise self._failed
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise multiprocessing.TimeoutError
                self._cond.wait(left)
            self._taken += 1
        if self.window is not None:
            self.window.give()
        return got

    def next(self, timeout: Optional[float] = None) -> Any:
        """The next result (in input order for imap)."""
        if self._items:
            return self._items.popleft()
        if self._stopped:
            raise StopIteration
        deadline = None if timeout is None else time.monotonic() + timeout
        ok, value = self._take_chunk(deadline)
        if not ok:
            # A chunk that raised ends the iteration as multiprocessing's
            # flattening generator does; a lone call does not.
            if self._chunksize > 1:
                self._stopped = True
            raise value
        if self._chunksize == 1:
            return value
        self._items.extend(value)
        if not self._items:
            return self.next(timeout)
        return self._items.popleft()

    __next__ = next


def _chunks(iterable: Iterable[Any], size: int) -> Iterator[List[Any]]:
    """Lists of size items (the last may be shorter)."""
    it = iter(iterable)
    while True:
        chunk = []
        for _ in range(size):
            try:
                chunk.append(next(it))
            except StopIteration:
                if chunk:
                    yield chunk
                return
        yield chunk


def _arglist(args: Iterable[Any]) -> Any:
    return args if isinstance(args, (list, tuple)) else list(args)


class Pool:
    """A supervised mpsup pool with multiprocessing.Pool's methods.

    Pool(name) connects to the supervisor (address and key as for
    mpsup.Client: address=, authkey=, authkey_file=, config=, or the
    environment MPSUP_ADDRESS / MPSUP_AUTHKEY_FILE, or ./pool.ini) and
    checks that the stream pool `name` exists (Error "unknown_pool"
    otherwise). The pool's workers must run `python3 -m mpsup.worker
    --allow MODULES` with the functions' modules allowed. Its size is
    the supervisor's (`workers`): there is no processes argument.

    window: jobs each map/imap call keeps in flight (submitted and not yet
    taken by the caller) at most; connections: how many connections wait
    for results (the supervisor answers each connection in order, so a
    slow job holds back the results behind it on its connection only),
    besides the one that submits;
    timeout: seconds to connect and to authenticate.
    """

    def __init__(self, pool: str, *, address: Optional[Address] = None,
                 authkey: Optional[Union[bytes, str]] = None,
                 config: Optional[str] = None,
                 authkey_file: Optional[str] = None,
                 window: int = DEFAULT_WINDOW,
                 connections: int = DEFAULT_CONNECTIONS,
                 timeout: Optional[float] = 30.0) -> None:
        if not isinstance(pool, str) or not pool:
            raise TypeError("the pool is named by a non-empty string")
        if not isinstance(window, int) or window < 1:
            raise ValueError("window must be a positive int")
        if not isinstance(connections, int) or not 1 <= connections <= 64:
            raise ValueError("connections must be an int from 1 to 64")
        self.name = pool
        self.window = window
        self._address, self._key = resolve(address, authkey, config,
                                           authkey_file)
        self._timeout = timeout
        self._channel = Channel(self._address, self._key, timeout,
                                loads=codec.loads)
        # Submits go on _channel, the waits for results on the lanes:
        # a submit's ids never queue behind a wait.
        self._lanes = []        # type: List[Channel]
        # Iterators with results stored and not yet announced.
        self._dirty = set()     # type: set
        self._name_json = json.dumps(pool)
        self._cond = threading.Condition()
        # Jobs accepted whose record has not come (dict operations are
        # atomic: no lock), and submits whose ids have not come.
        self._live = {}         # type: Dict[str, _Operation]
        self._inflight = 0
        self._feeding = set()   # type: set
        self._state = "run"
        try:
            status = self._channel.request({"op": "status"}, timeout)
            pools = {p["name"]: p for p in status["status"]["pools"]}
            if pool not in pools:
                raise Error("unknown_pool", "no pool named %r (the "
                            "supervisor has %s)" % (pool, ", ".join(
                                sorted(pools)) or "none"))
            info = pools[pool]
            if info.get("type") != "stream":
                raise Error("bad_request", "pool %r is an exec pool; "
                            "mpsup.Pool needs a stream pool running "
                            "python3 -m mpsup.worker" % pool)
            self.workers = max(1, int(info.get("workers_target") or 1))
            for _ in range(connections):
                self._lanes.append(Channel(self._address, self._key, timeout,
                                           loads=codec.loads))
                self._lanes[-1].idle = self._wake
        except BaseException:
            for lane in [self._channel] + self._lanes:
                lane.close()
            raise

    def __repr__(self) -> str:
        return "<mpsup.Pool %r state=%s workers=%d>" % (
            self.name, self._state, self.workers)

    # -- jobs on the wire ------------------------------------------------

    def _wake(self) -> None:
        """A reader has handled what it read: wake the iterators that got
        results."""
        while self._dirty:
            try:
                op = self._dirty.pop()
            except KeyError:
                break
            op.wake()

    def _landed(self) -> None:
        with self._cond:
            self._inflight -= 1
            self._cond.notify_all()

    def _send(self, op: _Operation, jobs: List[Tuple[int, str]]) -> None:
        """Submit jobs [(index, data JSON)] for op in one submit_many;
        Error if the connection is lost."""
        self._send_jobs([(op, i, d) for i, d in jobs])

    def _send_jobs(self, jobs: List[Tuple[_Operation, int, str]]) -> None:
        """Submit jobs [(op, index, data JSON)], of one call or several,
        in one submit_many; Error if the connection is lost."""
        body = ('{"op":"submit_many","pool":%s,"jobs":[%s]}' % (
            self._name_json, ",".join('{"data":%s}' % d for _, _, d in jobs))
        ).encode("utf-8")
        entries = [(op, i) for op, i, _ in jobs]

        def submitted(reply: Optional[dict],
                      err: Optional[BaseException]) -> None:
            try:
                if err is not None:
                    raise err
                self._await(entries, check_reply(reply)["ids"])
            except Error as e:
                for op in {id(op): op for op, _ in entries}.values():
                    op.fail(e)
            finally:
                self._landed()
        with self._cond:
            self._inflight += 1
        try:
            self._channel.send_raw([body], [submitted])
        except Error:
            self._landed()
            raise

    def _await(self, entries: List[Tuple[_Operation, int]],
               ids: List[str]) -> None:
        """Ask for each submitted job's record, waiting for its end."""
        # Dealt round the connections, the least loaded first.
        lanes = sorted(self._lanes, key=Channel.load)
        frames = [[] for _ in lanes]        # type: List[List[bytes]]
        callbacks = [[] for _ in lanes]     # type: List[list]
        for n, ((op, index), job_id) in enumerate(zip(entries, ids)):
            self._live[job_id] = op
            op.on_submitted(index, job_id)
            quoted = ('"%s"' % job_id if _PLAIN_ID.match(job_id)
                      else json.dumps(job_id)).encode()
            frames[n % len(lanes)].append(
                b'{"op":"result","id":%s,"wait":true}' % quoted)
            callbacks[n % len(lanes)].append(
                self._record_cb(op, index, job_id))
        try:
            for lane, f, c in zip(lanes, frames, callbacks):
                if f:
                    lane.send_raw(f, c)
        except Error:
            for job_id in ids:
                self._live.pop(job_id, None)
            raise

    def _record_cb(self, op: _Operation, index: int, job_id: str
                   ) -> Callable[[Optional[dict], Optional[BaseException]],
                                 None]:
        def record(reply: Optional[dict],
                   err: Optional[BaseException]) -> None:
            try:
                if err is not None:
                    op.fail(err)
                elif not reply.get("ok"):
                    op.fail(Error(str(reply.get("error")),
                                  str(reply.get("message", ""))))
                elif op.chunked:
                    op.on_result(index, *codec.chunk_result(
                        reply["job"], op.chunk_len(index)))
                elif reply["job"].get("state") == "done":
                    op.on_result(index, True, reply["job"].get("result"))
                else:
                    op.on_result(index, False,
                                 codec.exception_from_record(reply["job"]))
            finally:
                if self._live.pop(job_id, None) is not None and \
                        not self._live:
                    with self._cond:
                        self._cond.notify_all()
        return record

    def _feed(self, op: _Operation, payloads: Iterator[str]) -> None:
        """Submit op's jobs, at most op.window in flight, in batches; an
        exception of the input is the result at its position."""
        window = op.window
        held = _Held(self, op)
        n = 0
        try:
            while True:
                try:
                    data = next(payloads)
                except StopIteration:
                    break
                except Exception as e:
                    held.flush()
                    op.on_result(n, False, e)
                    op.on_length(n + 1)
                    return
                if not window.try_take():
                    held.flush()
                    if not window.take():
                        # terminate(), or the call failed already (then
                        # this changes nothing).
                        op.fail(Error("terminated",
                                      "the pool was terminated"))
                        return
                held.add(n, data)
                n += 1
            held.flush()
            op.on_length(n)
        except Error as e:
            op.fail(e)
        finally:
            held.close()
            with self._cond:
                self._feeding.discard(op)
                self._cond.notify_all()

    def _start(self, op: _Operation, payloads: Iterator[str]) -> None:
        """Feed op from a thread of its own."""
        op.window = _Window(self.window)
        with self._cond:
            self._check_running()
            self._feeding.add(op)
        threading.Thread(target=self._feed, args=(op, payloads),
                         name="mpsup-feeder", daemon=True).start()

    def _default_chunksize(self, n: int) -> int:
        """map()'s chunksize when the caller gives none: as
        multiprocessing, about four chunks per worker, but never more
        than MAP_CHUNK items, so that the workers start on the first
        chunks while later ones are still being encoded, and the results
        of the first are decoded while the last are computed."""
        return max(1, min(-(-n // (self.workers * 4)), MAP_CHUNK))

    def _check_running(self) -> None:
        if self._state != "run":
            raise ValueError("Pool not running")

    # -- multiprocessing.Pool's API --------------------------------------

    def apply(self, func: Function, args: Iterable[Any] = (),
              kwds: Optional[Dict[str, Any]] = None) -> Any:
        """func(*args, **kwds) on a worker; its result."""
        return self.apply_async(func, args, kwds).get()

    def apply_async(self, func: Function, args: Iterable[Any] = (),
                    kwds: Optional[Dict[str, Any]] = None,
                    callback: Optional[Callable[[Any], Any]] = None,
                    error_callback: Optional[
                        Callable[[BaseException], Any]] = None
                    ) -> ApplyResult:
        """Submit func(*args, **kwds); an AsyncResult for its result.

        TypeError or ValueError before anything is submitted when func or
        an argument cannot cross (see mpsup.codec).
        """
        self._check_running()
        call = {"f": codec.reference(func), "a": _arglist(args)}
        if kwds:
            call["k"] = kwds
        data = codec.dumps(call)
        op = ApplyResult(self, callback, error_callback)
        self._send(op, [(0, data)])
        return op

    def map(self, func: Function, iterable: Iterable[Any],
            chunksize: Optional[int] = None) -> List[Any]:
        """[func(x) for x in iterable], computed by the workers, in order."""
        return self.map_async(func, iterable, chunksize).get()

    def starmap(self, func: Function, iterable: Iterable[Iterable[Any]],
                chunksize: Optional[int] = None) -> List[Any]:
        """[func(*args) for args in iterable], in order."""
        return self.starmap_async(func, iterable, chunksize).get()

    def map_async(self, func: Function, iterable: Iterable[Any],
                  chunksize: Optional[int] = None,
                  callback: Optional[Callable[[Any], Any]] = None,
                  error_callback: Optional[
                      Callable[[BaseException], Any]] = None) -> MapResult:
        """map() that returns a MapResult at once."""
        return self._map_async(func, iterable, chunksize, callback,
                               error_callback, False)

    def starmap_async(self, func: Function,
                      iterable: Iterable[Iterable[Any]],
                      chunksize: Optional[int] = None,
                      callback: Optional[Callable[[Any], Any]] = None,
                      error_callback: Optional[
                          Callable[[BaseException], Any]] = None
                      ) -> MapResult:
        """starmap() that returns a MapResult at once."""
        return self._map_async(func, iterable, chunksize, callback,
                               error_callback, True)

    def _map_async(self, func: Function, iterable: Iterable[Any],
                   chunksize: Optional[int],
                   callback: Optional[Callable[[Any], Any]],
                   error_callback: Optional[Callable[[BaseException], Any]],
                   star: bool) -> MapResult:
        self._check_running()
        ref = codec.reference(func)
        # As multiprocessing, the input is read here (and raises here);
        # a range is its own list, sent as slices of itself.
        items = iterable if isinstance(iterable, range) and not star \
            else list(iterable)     # type: Any
        if chunksize is None:
            chunksize = self._default_chunksize(len(items))
        if chunksize < 1 and items:
            raise ValueError("chunksize must be 1 or more")
        chunksize = max(chunksize, 1)
        # What cannot cross is refused with nothing in the pool: the
        # chunks are encoded one by one as they are sent when a glance at
        # the items proves they all cross, else all of them first.
        payloads = codec.chunk_payloads(ref, items, chunksize, star)
        op = MapResult(self, len(items), chunksize, callback, error_callback)
        if items:
            self._start(op, payloads)
        return op

    def imap(self, func: Function, iterable: Iterable[Any],
             chunksize: int = 1) -> IMapIterator:
        """An iterator of func(x) for x in iterable, in input order, with
        at most `window` jobs in flight."""
        return self._imap(func, iterable, chunksize, True)

    def imap_unordered(self, func: Function, iterable: Iterable[Any],
                       chunksize: int = 1) -> IMapIterator:
        """imap() whose results come as they finish."""
        return self._imap(func, iterable, chunksize, False)

    def _imap(self, func: Function, iterable: Iterable[Any], chunksize: int,
              ordered: bool) -> IMapIterator:
        self._check_running()
        if chunksize < 1:
            raise ValueError("Chunksize must be 1+, not %r" % chunksize)
        ref = codec.reference(func)

        def payloads() -> Iterator[str]:
            if chunksize == 1:
                head, dumps = '{"f":%s,' % codec.dumps(ref), codec.dumps
                for x in iterable:
                    yield '%s"a":[%s]}' % (head, dumps(x))
            else:
                head, items = codec.chunk_head(ref, False), codec.chunk_items
                for n, chunk in enumerate(_chunks(iterable, chunksize)):
                    if len(chunk) < chunksize:      # the last one
                        op.short = (n, len(chunk))
                    yield '%s%s}' % (head, items(chunk))
        op = IMapIterator(self, ordered, chunksize)
        self._start(op, payloads())
        return op

    def close(self) -> None:
        """Submit nothing more; what was submitted still completes."""
        if self._state == "run":
            self._state = "close"

    def terminate(self) -> None:
        """Stop now: cancel every job this pool queued that has not
        started (running ones finish on their worker), and close the
        connection; calls still waiting fail with Error."""
        self._state = "terminate"
        with self._cond:
            feeding = list(self._feeding)
        for op in feeding:
            op.window.abort()
        with self._cond:
            # Submits already sent have ids only once acknowledged: wait
            # for those (briefly) so that their jobs are cancelled too.
            end = time.monotonic() + min(self._timeout or 5.0, 5.0)
            while self._inflight > 0 and time.monotonic() < end:
                self._cond.wait(max(0.0, end - time.monotonic()))
            ids = list(self._live)
        if ids:
            self._cancel(ids)
        for lane in [self._channel] + self._lanes:
            lane.close()

    def _cancel(self, ids: List[str]) -> List[str]:
        """Cancel those of the jobs that have not started; the ids
        cancelled. A connection of their own: on the pool's, the replies
        would queue behind the results it waits for. A running job is
        left alone: cancelling it would kill its worker, and with it the
        jobs (perhaps others') prefetched there."""
        from .connection import Client
        done = []
        try:
            with Client(self._address, self._key,
                        timeout=self._timeout) as c:
                for i in range(0, len(ids), _BATCH):
                    part = ids[i:i + _BATCH]
                    states = c.pipeline([{"op": "result", "id": j}
                                         for j in part])
                    queued = [j for j, r in zip(part, states)
                              if r.get("ok") and r["job"].get("state")
                              in ("queued", "delayed")]
                    if not queued:
                        continue
                    replies = c.pipeline([{"op": "cancel", "id": j}
                                          for j in queued])
                    done += [j for j, r in zip(queued, replies)
                             if r.get("ok")]
        except Error:
            pass        # the supervisor is gone: nothing is left to cancel
        return done

    def _wait_submitted(self, timeout: float) -> None:
        """Wait (a while) until every submit has its ids back."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._inflight > 0 and time.monotonic() < deadline:
                self._cond.wait(0.05)

    def join(self, timeout: Optional[float] = None) -> None:
        """Wait until every job submitted has ended (after close())."""
        if self._state == "run":
            raise ValueError("Pool is still running")
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._feeding or self._inflight > 0 or self._live:
                left = None if deadline is None else \
                    deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise multiprocessing.TimeoutError
                self._cond.wait(0.1 if left is None else min(left, 0.1))

    def __enter__(self) -> "Pool":
        self._check_running()
        return self

    def __exit__(self, *exc: Any) -> None:
        # As multiprocessing.Pool: leaving the block terminates.
        self.terminate()
