"""What crosses between a client and the workers, and how.

A function travels by reference, "module:qualname", the way
multiprocessing's spawn start method pickles it: the code lives on the
workers. Arguments and results travel as JSON, with bytes as
{"$bytes": "<base64>"}. On the way tuples become lists and dict keys
become strings; what JSON cannot carry at all (a set, an object, NaN) is
refused with TypeError or ValueError before anything is submitted.

A job's data is {"f": ref, "a": args, "k": kwargs} for one call. A
chunk of Pool's map, starmap and imap is in chunk format 2: {"v": 2,
"fn": ref, "m": items} (f(x) each; items a JSON list or a packed column,
see mpsup.column) or {"v": 2, "fn": ref, "s": [args, ...]} (f(*args)
each); its result is a packed column or the list of results. Format 1,
{"f": ref, "m": [x, ...]} or {"f": ref, "s": [args, ...]} answered with
the list, is what older clients (and Executor.map) send; the runner reads
both. An older runner refuses format 2 (it has no "f"): that refusal is
turned into Error("version") by chunk_result().
A call that raised fails its job with an error that starts with
"Type: message", then the traceback, then a last line ARGS_MARK + the
exception's args as JSON (when they are JSON), from which the caller
rebuilds a built-in exception exactly.
"""
import base64
import builtins
import json
import math
import sys
from typing import (Any, Callable, Iterator, List, Optional, Sequence, Tuple,
                    Union)

from . import column
from .connection import Error, RemoteError

__all__ = ["reference", "dumps", "loads", "chunk_payloads", "chunk_result",
           "exception_from_record"]

ARGS_MARK = "\nmpsup-exception-args: "
TRACEBACK_MARK = "\n\nTraceback (most recent call last):"

_SAFE = ("None, bool, int, float, str, bytes, bytearray, list, tuple and "
         "dict cross (see docs/python.md)")


def _default(obj: Any) -> Any:
    """json's hook for what it does not know: bytes, or a clear refusal."""
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return {"$bytes": base64.b64encode(bytes(obj)).decode("ascii")}
    if callable(obj):
        raise TypeError("cannot send %r to the workers as a value: "
                        "functions travel only as the function of a call; %s"
                        % (obj, _SAFE))
    raise TypeError("cannot send a %s to the workers: only %s"
                    % (type(obj).__name__, _SAFE))


_encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False,
                           default=_default).encode


def dumps(obj: Any) -> str:
    """obj as compact JSON, bytes as {"$bytes": ...}; TypeError or
    ValueError (NaN, infinity) for what cannot cross."""
    try:
        return _encode(obj)
    except ValueError as e:
        if "JSON compliant" in str(e):
            raise ValueError("cannot send NaN or infinity to the workers: "
                             "JSON has no such numbers") from None
        raise
    except TypeError as e:
        if str(e).startswith("keys must be"):
            raise TypeError("cannot send a dict with such keys to the "
                            "workers (%s): keys must be str, int, float, "
                            "bool or None, and arrive as strings" % e) \
                from None
        raise


# Items of these types always cross (floats once checked finite; an int
# only while it has fewer digits than sys.get_int_max_str_digits()).
_SCALARS = frozenset((int, str, float, bool, type(None)))


def _all_cross(items: List[Any]) -> Optional[frozenset]:
    """The items' types when every item is a plain scalar (no NaN or
    infinity), which JSON always carries. A pass or two in C, no
    per-item Python code; None says only "encode them to know"."""
    types = frozenset(map(type, items))
    if not types <= _SCALARS:
        return None
    if float not in types or all(map(math.isfinite, [
            x for x in items if type(x) is float])):
        return types
    return None


def chunk_payloads(ref: str, items: Sequence[Any], chunksize: int,
                   star: bool) -> Iterator[str]:
    """The data of each chunk job of a map (star: of a starmap) of ref
    over items (a list, or a range for a map), chunksize items a job, as
    JSON text (chunk format 2).

    TypeError or ValueError here, before anything is submitted, for an
    item that cannot cross. When _all_cross() finds only scalars (a
    range needs no scan), each chunk is encoded only as it is taken, so
    that the first jobs go out while later ones are still being encoded;
    then the one thing that can still fail is an int too long to write
    as text (over 4300 digits by default): the ValueError comes when its
    chunk is taken, and the chunks before it may have been submitted
    already. A chunk of a range is sent as its bounds, one of ints or of
    floats as a packed column (mpsup.column).
    """
    head = chunk_head(ref, star)
    if isinstance(items, range) and not star:
        return _range_chunks(head, items, chunksize)
    if star:
        items = [a if isinstance(a, (list, tuple)) else list(a)
                 for a in items]
    chunks = (items[i:i + chunksize] for i in range(0, len(items), chunksize))
    kinds = None if star else _all_cross(items)
    if kinds is not None:
        # One kind in all the items is that kind in each chunk.
        each = kinds if len(kinds) == 1 else None
        return ("%s%s}" % (head, _items(c, _encode, each)) for c in chunks)
    return iter(["%s%s}" % (head, dumps(c)) for c in chunks])


def _range_chunks(head: str, items: range, chunksize: int
                  ) -> Iterator[str]:
    for i in range(0, len(items), chunksize):
        part = items[i:i + chunksize]
        packed = column.pack_range(part)
        yield "%s%s}" % (head, '"%s"' % packed if packed is not None
                         else _encode(list(part)))


def chunk_head(ref: str, star: bool) -> str:
    """The start of a chunk's data, up to its items (format 2)."""
    return '{"v":%d,"fn":%s,"%s":' % (column.FORMAT, dumps(ref),
                                      "s" if star else "m")


def chunk_items(items: List[Any]) -> str:
    """A chunk's items as JSON: a packed column when they are all ints of
    64 bits or all finite floats, else a list (TypeError or ValueError for
    what cannot cross)."""
    return _items(items, dumps)


def _items(items: List[Any], encode: Callable[[Any], str],
           kinds: Optional[frozenset] = None) -> str:
    packed = column.pack(items, kinds)
    return encode(items) if packed is None else '"%s"' % packed


# How a runner older than chunk format 2 refuses such a chunk: it finds
# no "f" in it (mpsup.worker's Runner.call, before format 2).
_OLD_RUNNER = "TypeError: this worker runs mpsup.Pool jobs; the job's data"


def chunk_result(job: dict, count: Optional[int]) -> Tuple[bool, Any]:
    """(ok, value) for a finished job of a format 2 chunk: its list of
    count results (None: any number), or the exception it stands for."""
    if job.get("state") == "done":
        value = job.get("result")
        try:
            if isinstance(value, str):
                value = column.unpack(value, count)
                if isinstance(value, range):
                    value = list(value)
            elif not isinstance(value, list):
                raise ValueError("a chunk's result is a list or a packed "
                                 "column, not %s" % type(value).__name__)
            elif count is not None and len(value) != count:
                raise ValueError("%d results for %d items"
                                 % (len(value), count))
        except ValueError as e:
            return False, RemoteError("failed", "the worker's answer to a "
                                      "chunk cannot be read: %s" % e, "", job)
        return True, value
    if (job.get("error") or "").startswith(_OLD_RUNNER):
        return False, Error("version", "the workers of pool %r run an "
                            "mpsup.worker older than this client, which "
                            "does not read chunk format %d (map, starmap "
                            "and imap with chunks); install the client's "
                            "mpsup version on the workers"
                            % (job.get("pool"), column.FORMAT))
    return False, exception_from_record(job)


def _bytes_hook(d: dict) -> Any:
    if len(d) == 1 and "$bytes" in d and isinstance(d["$bytes"], str):
        return base64.b64decode(d["$bytes"])
    return d


_plain = json.JSONDecoder().decode
_hooked = json.JSONDecoder(object_hook=_bytes_hook).decode


def loads(text: Union[str, bytes]) -> Any:
    """JSON text to Python, {"$bytes": ...} back to bytes."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    # The hook costs a call per object: only pay it when bytes are there.
    # A "$" is looked for first: one memchr, where the search for the
    # whole word costs six times as much over a chunk's long result.
    return _hooked(text) if "$" in text and '"$bytes"' in text \
        else _plain(text)


def decode(value: Any) -> Any:
    """A value json already parsed, with {"$bytes": ...} turned to bytes."""
    if isinstance(value, dict):
        if len(value) == 1 and "$bytes" in value:
            return _bytes_hook(value)
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def _main_name() -> Optional[str]:
    """The importable name of the script running as __main__, if any."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name and spec.name != "__main__":
        return spec.name
    path = getattr(main, "__file__", None)
    if path:
        import os
        stem = os.path.splitext(os.path.basename(path))[0]
        if stem.isidentifier():
            return stem
    return None


def reference(fn: Union[Callable[..., Any], str]) -> str:
    """"module:qualname" for a module-level function (or class), checked
    the way pickle checks it; TypeError for what cannot travel so.

    A string "module:qualname" is taken as it is: the function need not
    exist on the client.
    """
    if isinstance(fn, str):
        module, sep, qualname = fn.partition(":")
        if not sep or not module or not qualname:
            raise TypeError("a function named by a string must read "
                            "'module:qualname', not %r" % fn)
        return fn
    import inspect
    if inspect.ismethod(fn):
        raise TypeError("cannot send the bound method %r: its object "
                        "cannot cross; use a module-level function" % fn)
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    if not callable(fn) or not module or not qualname:
        raise TypeError("cannot send %r: only module-level functions travel "
                        "(by module and name), not objects such as "
                        "functools.partial or instances" % (fn,))
    if "<lambda>" in qualname:
        raise TypeError("cannot send a lambda: the workers import functions "
                        "by name; define it with def in a module they can "
                        "import")
    if "<locals>" in qualname:
        raise TypeError("cannot send %s: it is defined inside a function; "
                        "the workers can import only module-level ones"
                        % qualname)
    found = sys.modules.get(module)
    if module == "__main__":
        name = _main_name()
        if name is None:
            raise TypeError("cannot send %s: it is defined in __main__, "
                            "which the workers cannot import; move it into "
                            "a module" % qualname)
        module = name
    for part in qualname.split("."):
        found = getattr(found, part, None)
    if found is not fn:
        raise TypeError("cannot send %r: it is not the object found as "
                        "%s:%s (a decorator without functools.wraps?)"
                        % (fn, module, qualname))
    return "%s:%s" % (module, qualname)


def exception_from_record(job: dict) -> BaseException:
    """The exception a failed job's record stands for."""
    error = job.get("error") or ""
    state = job.get("state", "failed")
    at = error.find(TRACEBACK_MARK)
    if state != "failed" or at < 0:
        return RemoteError(state, error, "", job)
    head, tb = error[:at], error[at + 2:]
    args = None
    mark = tb.rfind(ARGS_MARK)
    if mark >= 0:
        try:
            args = decode(json.loads(tb[mark + len(ARGS_MARK):]))
        except ValueError:
            args = None
        tb = tb[:mark]
    type_name, sep, message = head.partition(": ")
    if not sep:
        type_name, message = head.strip(), ""
    cls = getattr(builtins, type_name, None) if "." not in type_name else None
    if isinstance(cls, type) and issubclass(cls, BaseException) and \
            not issubclass(cls, (KeyboardInterrupt, SystemExit,
                                 GeneratorExit)):
        try:
            if isinstance(args, list):
                exc = cls(*args)
            else:
                exc = cls(message) if message else cls()
        except Exception:
            exc = None
        if exc is not None:
            exc.__cause__ = RemoteError(type_name, message, tb, job)
            return exc
    return RemoteError(type_name, message, tb, job)
