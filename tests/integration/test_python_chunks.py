"""Chunk format 2 of the mpsup Python module, against a real supervisor:
map's items and results as packed columns (ints of up to 64 bits, finite
floats) or range bounds come back equal and of the same type; everything
else still crosses as JSON; a runner refuses a malformed or too-new chunk
clearly and still answers format 1 (older clients); a client whose
workers run a runner older than format 2 gets Error "version", and one
that reads a wrong answer gets a RemoteError instead of a shifted list.
"""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import run_tests, write  # noqa: E402
from pooltest import mpsup, pool, start  # noqa: E402
import mpsup.column  # noqa: E402
from pooltasks import identity, mul, sqr  # noqa: E402


def same(got, want):
    """Equal, item for item of the same type, -0.0 kept."""
    assert len(got) == len(want), (len(got), len(want))
    for g, w in zip(got, want):
        assert type(g) is type(w) and g == w, (g, w)
        if type(w) is float:
            assert math.copysign(1, g) == math.copysign(1, w), (g, w)


def test_packed_columns_keep_values_and_types(tmp):
    start(tmp)
    lists = [
        [0, -128, 127, 5],                          # 4 bytes each
        [-(2 ** 31), 2 ** 31 - 1, 0],               # 4
        [-(2 ** 31) - 1, 0], [0, 2 ** 31],          # 8
        [-(2 ** 63), 2 ** 63 - 1, 1],               # 8
        [2 ** 63, 1],                               # over 64 bits: JSON
        [0.5, -0.0, 1e308, 5e-324, -1.5, 3.0],      # doubles
        [True, False, True],                        # bools: JSON
        [1, 2.0, 3],                                # mixed: JSON
        ["a", "é", ""],
        [None, 1],
    ]
    with pool(tmp) as p:
        for items in lists:
            for chunksize in (1, 2, 100):
                same(p.map(identity, items, chunksize), items)
            same(list(p.imap(identity, items, 2)), items)
        # Ranges go as their bounds, any size of int, any step.
        for r in (range(5, 100, 7), range(100, 0, -3), range(0),
                  range(2 ** 70, 2 ** 70 + 9), range(-5, 5)):
            same(p.map(identity, r, 4), list(r))
            same(p.map(sqr, r), [x * x for x in r])
        # Results packed from starmap chunks: ints and doubles.
        same(p.starmap(mul, [(3, 4), (2 ** 40, 2), (-1, 7)]),
             [12, 2 ** 41, -7])
        same(p.starmap(mul, [(0.5, 3), (-0.0, 1.0)]), [1.5, -0.0])
        # A result that cannot cross still fails its job as it did: an
        # infinity is not packed, and JSON refuses it.
        try:
            p.starmap(mul, [(1e308, 10.0), (1.0, 1.0)])
            raise AssertionError("infinity came back")
        except mpsup.RemoteError as e:
            assert e.type_name == "failed" and "not JSON" in e.message, e
    # What the supervisor keeps is the compact form: one text per chunk.
    with mpsup.Client(config=os.path.join(tmp, "pool.ini")) as c:
        with pool(tmp) as p:
            assert p.map(sqr, range(10), chunksize=10) == \
                [x * x for x in range(10)]
        job = c.request({"op": "jobs", "pool": "py", "limit": 1})["jobs"][0]
        assert isinstance(job["result"], str) and \
            job["result"].startswith("i"), job
        assert mpsup.column.unpack(job["result"]) == \
            [x * x for x in range(10)]


def submit(c, data):
    return c.submit("py", data, wait=True, timeout=30)["job"]


def test_runner_refuses_bad_chunks_and_still_reads_format_1(tmp):
    start(tmp, workers=1)
    with mpsup.Client(config=os.path.join(tmp, "pool.ini")) as c:
        # An older client's chunk: answered with the list, as before.
        job = submit(c, {"f": "pooltasks:sqr", "m": [1, 2, 3]})
        assert job["state"] == "done" and job["result"] == [1, 4, 9], job
        job = submit(c, {"f": "pooltasks:mul", "s": [[2, 3]]})
        assert job["result"] == [6], job
        # Format 2 with a list or a column in.
        job = submit(c, {"v": 2, "fn": "pooltasks:sqr", "m": [1, 2, 3]})
        assert mpsup.column.unpack(job["result"]) == [1, 4, 9], job
        job = submit(c, {"v": 2, "fn": "pooltasks:sqr", "m": "r1:4:1"})
        assert mpsup.column.unpack(job["result"]) == [1, 4, 9], job
        bad = [
            ({"v": 3, "fn": "pooltasks:sqr", "m": [1]},
             "chunk format 3: this mpsup.worker reads formats 1 and 2"),
            ({"v": 2, "fn": "pooltasks:sqr", "m": "qAAAA"},
             "3 bytes is not a whole number of values"),
            ({"v": 2, "fn": "pooltasks:sqr", "m": "x1234"},
             "not a packed column"),
            ({"v": 2, "fn": "pooltasks:sqr", "m": "r0:5:0"},
             "rSTART:STOP:STEP"),
            ({"v": 2, "fn": "pooltasks:sqr", "m": "r0:%d:1" % 10 ** 12},
             "at most 8388608 items"),
            ({"v": 2, "fn": "pooltasks:sqr", "m": {"a": 1}},
             "list or a packed column"),
            ({"v": 2, "fn": "pooltasks:sqr"}, "no \"m\" or \"s\""),
            ({"v": 2, "m": [1]}, "names no function (None is not"),
            ({"v": 2, "fn": "os:system", "m": ["true"]}, "not allowed"),
        ]
        for data, words in bad:
            job = submit(c, data)
            assert job["state"] == "failed" and words in job["error"], \
                (data, job)
        # The worker lived through all of it.
        assert submit(c, {"f": "pooltasks:sqr", "a": [5]})["result"] == 25


# The runner's call as it was before chunk format 2 (the code of the
# previous release, verbatim): it knows "f" with "a", "m" or "s" only.
OLD_RUNNER = r'''
import itertools
import sys
import mpsup.worker


def call(self, data):
    if not isinstance(data, dict) or "f" not in data:
        raise TypeError("this worker runs mpsup.Pool jobs; the job's "
                        "data is not one ({\"f\": \"module:name\", ...})")
    fn = self.resolve(data["f"])
    if "m" in data:
        return list(map(fn, data["m"]))
    if "s" in data:
        return list(itertools.starmap(fn, data["s"]))
    return fn(*data.get("a", ()), **data.get("k", {}))


mpsup.worker.Runner.call = call
sys.exit(mpsup.worker.main())
'''


def test_old_runner_is_refused_with_error_version(tmp):
    write(os.path.join(tmp, "old_runner.py"), OLD_RUNNER)
    start(tmp, workers=1, command="%s old_runner.py --allow pooltasks"
          % sys.executable)
    with pool(tmp) as p:
        assert p.apply(sqr, (6,)) == 36         # single calls: format 1
        for call in (lambda: p.map(sqr, range(10)),
                     lambda: p.starmap(mul, [(1, 2)]),
                     lambda: list(p.imap(sqr, [1, 2, 3], 2))):
            try:
                call()
                raise AssertionError("an old runner answered format 2")
            except mpsup.Error as e:
                assert e.code == "version" and "older" in e.message and \
                    "'py'" in e.message, e


# A runner that answers every chunk with two results, whatever it holds.
ROGUE_RUNNER = r'''
import sys
import mpsup.column
import mpsup.worker

mpsup.worker.Runner.call_chunk = lambda self, data: mpsup.column.pack([1, 2])
sys.exit(mpsup.worker.main())
'''


def test_a_chunk_answer_of_the_wrong_length_is_an_error(tmp):
    write(os.path.join(tmp, "rogue_runner.py"), ROGUE_RUNNER)
    start(tmp, workers=1, command="%s rogue_runner.py --allow pooltasks"
          % sys.executable)
    with pool(tmp) as p:
        assert p.map(sqr, range(4), chunksize=2) == [1, 2, 1, 2]
        try:
            p.map(sqr, range(10), chunksize=5)
            raise AssertionError("a short answer was taken")
        except mpsup.RemoteError as e:
            assert e.type_name == "failed" and \
                "holds 2 values, not 5" in e.message, e
        # imap: 2 results do for 2-item chunks and for a last chunk of 2
        # (shorter than chunksize), not for a 3-item chunk.
        assert list(p.imap(sqr, [1, 2, 3, 4], 2)) == [1, 2, 1, 2]
        assert list(p.imap(sqr, [7, 8], 3)) == [1, 2]
        it = p.imap(sqr, [1, 2, 3, 4, 5], 3)
        try:
            list(it)
            raise AssertionError("a short answer was taken")
        except mpsup.RemoteError as e:
            assert "holds 2 values, not 3" in e.message, e


if __name__ == "__main__":
    run_tests(globals())
