"""ipc/pickle_*.c against the real pickle module of every Python installed
here (3.8 and later): what each one's pickle.dumps writes at protocols 2 to
5 decodes to the documented JSON, the encoder's pickles load back equal
under each of them, and pickles that would run code are refused by opcode
name without anything running. The codec is driven through
tests/integration/pickle_tool, which batches one conversion per line.
"""
import base64
import glob
import json
import math  # noqa: F401 (used by the corpus code run with exec)
import os
import subprocess
import sys
import time

from harness import BUILDDIR, run_tests, spawn, write

TOOL = os.path.join(BUILDDIR, "tests", "integration", "pickle_tool")

# The corpus: executed both here (for the expectations) and by each
# interpreter under test (to pickle it with that interpreter's pickler).
VALUES_SRC = r'''
import datetime
import enum


def nested(levels, leaf=None):
    """levels lists one inside the other, leaf in the innermost."""
    top = cur = []
    for _ in range(levels - 1):
        nxt = []
        cur.append(nxt)
        cur = nxt
    if leaf is not None:
        cur.append(leaf)
    return top


def code(p):
    """What refuses an object that needs an import at protocol p."""
    return "opcode GLOBAL (0x63)" if p < 4 else "opcode STACK_GLOBAL (0x93)"


def make_values():
    s = "shared"
    l = [1, "x"]
    d = {"k": [1, 2]}
    return [
        None, True, False, 0, 1, -1, 255, 256, 65535, 65536,
        2**31 - 1, 2**31, -2**31, -2**31 - 1, 2**63 - 1, 2**63, -2**63,
        -2**63 - 1, 2**64, -2**64, 10**100, -10**150, 2**511 - 1, -2**511,
        0.0, -0.0, 1.5, -2.5, 0.1, 1e16, 1e300, -2.5e-300, 5e-324,
        123456789.123, 1.7976931348623157e308,
        "", "hi", "\u4f60\u597d", "a\"b\\c\n\t\x00\x1f\x7f/",
        "\U0001F600 emoji \u00e9", "x" * 300, "y" * 70000,
        b"", b"hi", bytes(range(256)), b"\x00" * 70000,
        [], (), {}, [1], [1, 2], (1,), (1, 2, 3), (1, 2, 3, 4),
        {"a": 1},
        {"a": [1, (2, 3), {"b": None}], "c": {"d": [True, False]},
         "\u00e9": b"\xff"},
        [[[[]]]], nested(64), nested(63, b"at depth 64"),
        [s, s, {"x": s}], [l, l, {"k": l}], (d, d), {"z": 1, "a": 2, "m": 3},
        list(range(2500)), {"k%d" % i: i for i in range(1500)},
        {1, 2, 3}, frozenset({4}), set(), [frozenset(), {5}],
        bytearray(b"ba"), [bytearray(), b"x"],
        {"op": "submit", "pool": "P", "args": [1, 2.5, "x"],
         "data": {"blob": b"\x00\x01"}, "wait": True, "timeout": 30},
    ]


class Color(enum.IntEnum):
    RED = 1


class Plain:
    pass


def make_bad():
    """(value, {protocol: what the error must say})."""
    l = []
    l.append(l)
    d = {}
    d["self"] = d
    t = ([],)
    t[0].append(t)
    every = {p: None for p in range(2, 6)}

    def msg(text, p2=None):
        return {p: (p2 if p == 2 and p2 else text) for p in every}

    return [
        (2**600, msg("integer too large")),
        (-2**511 - 1, msg("integer too large")),
        (2**511, msg("integer too large")),
        (float("nan"), msg("float nan")),
        (float("inf"), msg("float inf")),
        ([1.0, float("-inf")], msg("float -inf")),
        ({1: 2}, msg("dict key must be a string, not int")),
        ({(1, 2): 3}, msg("dict key must be a string, not tuple")),
        ({None: 1}, msg("dict key must be a string, not None")),
        ({b"k": 1}, msg("dict key must be a string, not bytes",
                        "opcode GLOBAL (0x63)")),
        ({"$bytes": "aGk="}, msg("reserved")),
        (nested(65), msg("nesting too deep")),
        (nested(64, b"at depth 65"), msg("nesting too deep",
                                         "opcode GLOBAL (0x63)")),
        ("\ud800", msg("not valid UTF-8")),
        (["ok", "x\udfffy"], msg("not valid UTF-8")),
        (l, msg("self-referencing structure")),
        (d, msg("self-referencing structure")),
        (t, msg("self-referencing structure")),
        (Color.RED, {p: code(p) for p in every}),
        (complex(1, 2), {p: code(p) for p in every}),
        (datetime.date(2020, 1, 2), {p: code(p) for p in every}),
        (Plain(), {p: code(p) for p in every}),
        ([1, {"deep": [Plain()]}], {p: code(p) for p in every}),
    ]
'''

# Run by each interpreter: "dump" prints every pickle as hex, "load" reads
# "index hex" lines of the encoder's pickles and reports what differs.
CHILD_SRC = r'''
import json, math, pickle, sys


def back(v):
    """What a value must look like after pickle -> JSON -> pickle."""
    if isinstance(v, (tuple, list, set, frozenset)):
        return [back(x) for x in v]
    if isinstance(v, dict):
        return {k: back(x) for k, x in v.items()}
    if isinstance(v, bytearray):
        return bytes(v)
    return v


def same(a, b):
    """Equal, with the same types and key order (and sign of zero)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


def main():
    values = make_values()
    print("# ran under: %d.%d.%d %s" % (sys.version_info[:3] +
                                        (sys.executable,)))
    if sys.argv[1] == "dump":
        for p in range(2, 6):
            for i, v in enumerate(values):
                print("V", p, i, pickle.dumps(v, protocol=p).hex())
            for i, (v, _) in enumerate(make_bad()):
                print("B", p, i, pickle.dumps(v, protocol=p).hex())
        return 0
    bad = []
    n = 0
    for line in sys.stdin:
        i, h = line.split()
        got = pickle.loads(bytes.fromhex(h))
        want = back(values[int(i)])
        n += 1
        if not same(got, want):
            bad.append("%s: %r != %r" % (i, got, want)[:300])
    print(json.dumps({"loaded": n, "bad": bad}))
    return 0


sys.exit(main())
'''

ns = {}
exec(VALUES_SRC, ns)
exec(CHILD_SRC.split("\ndef main")[0], ns)
VALUES = ns["make_values"]()
BAD = ns["make_bad"]()
same = ns["same"]


def to_json(v):
    """The documented mapping of a Python value to JSON."""
    if isinstance(v, (bytes, bytearray)):
        return {"$bytes": base64.b64encode(bytes(v)).decode()}
    if isinstance(v, (list, tuple, set, frozenset)):
        return [to_json(x) for x in v]
    if isinstance(v, dict):
        return {k: to_json(x) for k, x in v.items()}
    return v


def contains(v, types):
    if isinstance(v, types):
        return True
    if isinstance(v, dict):
        return any(contains(k, types) or contains(x, types)
                   for k, x in v.items())
    if isinstance(v, (list, tuple, set, frozenset)):
        return any(contains(x, types) for x in v)
    return False


def refusal(v, p):
    """What must refuse a pure-data value at protocol p, or None (4.1)."""
    if p == 2 and contains(v, bytes):
        return "opcode GLOBAL (0x63)"   # _codecs.encode
    if p < 4 and contains(v, (set, frozenset, bytearray)):
        return "opcode GLOBAL (0x63)"
    if p == 4 and contains(v, bytearray):
        return "opcode STACK_GLOBAL (0x93)"
    return None


def interpreters():
    """{version: executable} for every installed Python >= 3.8."""
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates = [sys.executable]
    candidates += sorted(glob.glob(os.path.join(root, "versions", "*", "bin",
                                                "python3")))
    candidates += sorted(glob.glob("/usr/bin/python3.[0-9]*"))
    found = {}
    for exe in candidates:
        if exe.endswith("-config") or not os.access(exe, os.X_OK):
            continue
        try:
            out = subprocess.run(
                [exe, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                capture_output=True, text=True, timeout=20).stdout.strip()
            version = tuple(int(x) for x in out.split("."))
        except (OSError, ValueError, subprocess.TimeoutExpired):
            continue
        if version >= (3, 8):
            found.setdefault(version, exe)
    return dict(sorted(found.items()))


def run(argv, data, timeout=60):
    """Run argv (in its own process group) with data on stdin."""
    p = spawn(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
              stderr=subprocess.PIPE)
    out, err = p.communicate(data, timeout=timeout)
    return p.returncode, out, err


def tool_batch(lines, encode=False, max_out=None):
    """Convert many inputs with one pickle_tool; [(ok, text)] in order."""
    argv = [TOOL, "-b"] + (["-e"] if encode else [])
    if max_out is not None:
        argv += ["-m", str(max_out)]
    rc, out, err = run(argv, "".join(l + "\n" for l in lines).encode())
    assert rc == 0, (rc, err)
    results = []
    for line in out.decode("utf-8").split("\n")[:-1]:
        status, _, text = line.partition(" ")
        assert status in ("OK", "ERR"), line[:200]
        results.append((status == "OK", text))
    assert len(results) == len(lines), (len(results), len(lines))
    return results


def child(tmp, exe, mode, data=b""):
    script = os.path.join(tmp, "child.py")
    if not os.path.exists(script):
        write(script, VALUES_SRC + CHILD_SRC)
    rc, out, err = run([exe, script, mode], data, timeout=120)
    assert rc == 0, (exe, mode, rc, err.decode()[-2000:])
    lines = out.decode().splitlines()
    for l in lines:
        if l.startswith("# ran under: "):
            print(l, flush=True)
    return [l for l in lines if not l.startswith("#")]


def check_interpreter(tmp, exe):
    # 1. Every pickle this Python writes: decoded or refused as documented.
    dumped = [l.split() for l in child(tmp, exe, "dump")]
    results = tool_batch([h for _, _, _, h in dumped])
    accepted = {}
    failures = []
    for (kind, p, i, h), (ok, text) in zip(dumped, results):
        p, i = int(p), int(i)
        if kind == "V":
            v, want_err = VALUES[i], refusal(VALUES[i], p)
        else:
            v, want_err = BAD[i][0], BAD[i][1][p]
        where = "%s%d protocol %d (%s)" % (kind, i, p, repr(v)[:60])
        if want_err is not None:
            if ok or want_err not in text:
                failures.append("%s: want error %r, got %s %s" % (
                    where, want_err, "OK" if ok else "ERR", text[:200]))
            continue
        if not ok:
            failures.append("%s: refused: %s" % (where, text))
            continue
        got = json.loads(text)
        if not same(got, to_json(v)):
            failures.append("%s: got %s" % (where, text[:200]))
        elif kind == "V" and p == 5:
            accepted[i] = text
    assert not failures, "\n".join(failures[:20])
    assert sorted(accepted) == list(range(len(VALUES))), "not all accepted"

    # 2. Encode the JSON back; this Python must load it equal, as lists.
    order = sorted(accepted)
    encoded = tool_batch([accepted[i] for i in order], encode=True)
    lines = []
    for i, (ok, text) in zip(order, encoded):
        assert ok, (i, text)
        assert text.startswith("8004"), text[:20]
        lines.append("%d %s\n" % (i, text))
    report = json.loads(child(tmp, exe, "load", "".join(lines).encode())[-1])
    assert report["loaded"] == len(VALUES), report
    assert not report["bad"], "\n".join(report["bad"][:20])


def _interpreter_test(exe):
    def test(tmp):
        check_interpreter(tmp, exe)
    return test


PYTHONS = interpreters()
for _version, _exe in PYTHONS.items():
    globals()["test_pickles_of_python_%d_%d_%d_round_trip" % _version] = \
        _interpreter_test(_exe)


def test_interpreters_3_8_to_3_13_present(tmp):
    found = sorted({v[:2] for v in PYTHONS})
    print("# interpreters: %s" % ", ".join(
        "%d.%d.%d" % v for v in PYTHONS), flush=True)
    assert (3, 8) in found and (3, 13) in found, found


def exe_for_payloads():
    return PYTHONS[max(PYTHONS)] if PYTHONS else sys.executable


def assert_refused_and_inert(tmp, payload, opcode, marker):
    """payload runs code under Python; the tool must refuse it, inertly."""
    path = os.path.join(tmp, "payload.pickle")
    with open(path, "wb") as f:
        f.write(payload)
    # The payload is live: unpickling it in Python creates the marker.
    subprocess.run([exe_for_payloads(), "-c",
                    "import pickle,sys; pickle.loads(open(sys.argv[1],'rb')"
                    ".read())", path], capture_output=True, timeout=30)
    assert os.path.exists(marker), "payload did not run under Python"
    os.unlink(marker)
    rc, out, err = run([TOOL], payload)
    assert rc == 1 and out == b"", (rc, out, err)
    assert ("opcode %s" % opcode) in err.decode(), err
    assert "is not allowed" in err.decode(), err
    time.sleep(0.1)
    assert not os.path.exists(marker), "the payload ran"


def test_hand_built_global_reduce_payloads_refused_and_nothing_runs(tmp):
    marker = os.path.join(tmp, "PWNED")
    cmd = ("touch " + marker).encode()
    # Protocol 0: GLOBAL os.system, MARK, STRING, TUPLE, REDUCE.
    p0 = b"cos\nsystem\n(S'" + cmd + b"'\ntR."
    assert_refused_and_inert(tmp, p0, "GLOBAL (0x63) at offset 0", marker)
    # Protocol 2: the same with binary opcodes.
    p2 = (b"\x80\x02cposix\nsystem\nX" + len(cmd).to_bytes(4, "little") +
          cmd + b"\x85R.")
    assert_refused_and_inert(tmp, p2, "GLOBAL (0x63) at offset 2", marker)
    # Protocol 4: STACK_GLOBAL from two strings on the stack.
    p4 = (b"\x80\x04\x8c\x05posix\x8c\x06system\x93X" +
          len(cmd).to_bytes(4, "little") + cmd + b"\x85R.")
    assert_refused_and_inert(tmp, p4, "STACK_GLOBAL (0x93) at offset 17",
                             marker)


def test_reduce_objects_refused_by_opcode_and_nothing_runs(tmp):
    import pickle
    marker = os.path.join(tmp, "PWNED")

    class Evil:
        def __reduce__(self):
            return (os.system, ("touch " + marker,))

    for p in range(2, 6):
        for obj in (Evil(), {"op": "submit", "args": [1, Evil()]}):
            want = "GLOBAL (0x63)" if p < 4 else "STACK_GLOBAL (0x93)"
            assert_refused_and_inert(tmp, pickle.dumps(obj, protocol=p),
                                     want, marker)


def test_bytearray_refused_at_protocol_4_accepted_at_5(tmp):
    import pickle
    rc, out, err = run([TOOL], pickle.dumps(bytearray(b"hi"), protocol=4))
    assert rc == 1 and b"opcode STACK_GLOBAL (0x93)" in err, (rc, err)
    rc, out, err = run([TOOL], pickle.dumps(bytearray(b"hi"), protocol=5))
    assert rc == 0 and out == b'{"$bytes":"aGk="}', (rc, out, err)


def test_tool_single_conversions(tmp):
    import pickle
    rc, out, err = run([TOOL], pickle.dumps(["Hello World", 100,
                                             "\u4f60\u597d".encode()], 4))
    assert rc == 0, err
    assert out.decode() == '["Hello World",100,{"$bytes":"5L2g5aW9"}]', out
    rc, out, err = run([TOOL, "-e"],
                       b'["Hello World",100,{"$bytes":"5L2g5aW9"}]')
    assert rc == 0, err
    # Section 4.6, the minimal encoder's bytes.
    assert out.hex() == ("80045d288c0b48656c6c6f20576f726c644b644306e4bda0e5"
                         "a5bd652e"), out.hex()
    assert pickle.loads(out) == ["Hello World", 100, "\u4f60\u597d".encode()]
    rc, out, err = run([TOOL], pickle.dumps([1, 2], 4)[:-1])
    assert rc == 1 and out == b"" and b"truncated pickle" in err, (rc, err)
    rc, out, err = run([TOOL, "-e"], b"[1,")
    assert rc == 1 and b"not one valid JSON value" in err, (rc, err)


def test_python_memo_bomb_refused_by_output_cap(tmp):
    import pickle
    x = "a" * 8
    for _ in range(60):
        x = [x, x]
    bomb = pickle.dumps(x, protocol=4)
    assert len(bomb) < 1000
    start = time.monotonic()
    rc, out, err = run([TOOL, "-m", str(1 << 20)], bomb)
    assert rc == 1 and b"output too large" in err, (rc, err)
    assert time.monotonic() - start < 5
    # The same shape, small enough, comes out in full.
    y = "a" * 8
    for _ in range(10):
        y = [y, y]
    rc, out, err = run([TOOL, "-m", str(1 << 20)], pickle.dumps(y, 4))
    assert rc == 0, err
    assert json.loads(out) == y


run_tests(globals(), timeout=120)
