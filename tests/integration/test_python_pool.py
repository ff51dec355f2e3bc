"""mpsup.Pool against a real supervisor and real mpsup.worker runners:
the behaviour CPython's own pool tests (_TestPool in
Lib/test/_test_multiprocessing.py) hold multiprocessing.Pool to, ported:
apply, map with and without chunksize, starmap, the async variants with
their callbacks, imap's order and StopIteration, imap_unordered,
exceptions from the function and from the input, timeouts, empty input;
and what crosses as JSON.
"""
import itertools
import multiprocessing
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import run_tests  # noqa: E402
import pooltest  # noqa: E402
from pooltest import (SayWhenError, counters, exception_throwing_generator,  # noqa: E402
                      mpsup, pool, start)
from pooltasks import (echo, fail_at, identity, mul, my_error, nap,  # noqa: E402
                       raising, sqr)


def test_apply_and_apply_async_with_callbacks(tmp):
    start(tmp)
    with pool(tmp) as p:
        assert p.apply(sqr, (5,)) == 25
        assert p.apply(sqr, (), {"x": 3}) == 9
        res = p.apply_async(sqr, (7, 0.3))
        assert not res.ready()
        try:
            res.successful()
            raise AssertionError("successful() before the end")
        except ValueError:
            pass
        assert res.get(timeout=10) == 49 and res.ready() and res.successful()
        got, errs, done = [], [], threading.Event()
        p.apply_async(sqr, (4,), callback=lambda v: (got.append(v),
                                                     done.set()))
        assert done.wait(10) and got == [16], got
        done.clear()
        res = p.apply_async(raising, error_callback=lambda e: (
            errs.append(e), done.set()))
        assert done.wait(10) and isinstance(errs[0], KeyError), errs
        res.wait()
        assert res.ready() and not res.successful()
    # As multiprocessing.Pool: leaving the with block ends the pool.
    try:
        p.apply(sqr, (1,))
        raise AssertionError("a terminated pool took a job")
    except ValueError as e:
        assert "not running" in str(e)


def test_get_and_next_time_out(tmp):
    start(tmp)
    with pool(tmp) as p:
        res = p.apply_async(sqr, (6, 3.0))
        t0 = time.monotonic()
        try:
            res.get(timeout=0.3)
            raise AssertionError("get() did not time out")
        except multiprocessing.TimeoutError:
            pass
        assert 0.25 < time.monotonic() - t0 < 2.5
        assert not res.ready()
        it = p.imap(nap, [2.0, 0])
        try:
            it.next(timeout=0.3)
            raise AssertionError("next() did not time out")
        except multiprocessing.TimeoutError:
            pass
        # The result was not lost by the timeout.
        assert it.next(timeout=10) == 2.0 and it.next(timeout=10) == 0
        assert res.get(10) == 36


def test_map_with_and_without_chunksize(tmp):
    start(tmp)
    with pool(tmp) as p:
        assert p.map(sqr, list(range(10))) == [x * x for x in range(10)]
        assert p.map(sqr, list(range(100)), chunksize=20) == \
            [x * x for x in range(100)]
        # The default chunksize (items / (4 * workers), here 125) and a
        # generator as input.
        assert p.map(sqr, (x for x in range(1000))) == \
            [x * x for x in range(1000)]
        assert p.map(sqr, range(7), chunksize=3) == [x * x for x in range(7)]
        got, done = [], threading.Event()
        res = p.map_async(sqr, range(10), callback=lambda v: (got.append(v),
                                                             done.set()))
        assert res.get(10) == [x * x for x in range(10)]
        assert done.wait(10) and got == [[x * x for x in range(10)]]
        # Chunks are jobs: 10 items in chunks of 3 are 4 jobs.
        before = counters(tmp)["done"]
        p.map(sqr, range(10), chunksize=3)
        assert counters(tmp)["done"] - before == 4


def test_map_bigger_than_one_message(tmp):
    # 24 MB of input in 8 chunks: more than the supervisor's max_message
    # (16 MiB) in all, so the chunks must not travel as one request.
    start(tmp)
    item = "x" * 1000
    with pool(tmp) as p:
        got = p.map(identity, [item] * 24000)
    assert len(got) == 24000 and got[0] == item and got[-1] == item


def test_map_default_chunks_and_encoding_as_sent(tmp):
    # The default chunksize is items / (4 * workers) as multiprocessing's,
    # but at most mpsup.pool.MAP_CHUNK items, so that a long map is many
    # jobs: the workers start on the first while the rest are encoded.
    start(tmp)
    with pool(tmp) as p:
        before = counters(tmp)["done"]
        assert p.map(sqr, range(20)) == [x * x for x in range(20)]
        assert counters(tmp)["done"] - before == 7      # chunks of 3
        # 8 * MAP_CHUNK + 5 items would be 8 chunks of MAP_CHUNK + 1.
        n = 8 * mpsup.pool.MAP_CHUNK + 5
        before = counters(tmp)["done"]
        assert p.map(sqr, range(n)) == [x * x for x in range(n)]
        assert counters(tmp)["done"] - before == 9
        # Scalars of every kind take the encode-as-sent path unchanged.
        mixed = [1, True, None, "é", 2.5, -0.0, 10 ** 30, False] * 3
        assert p.map(identity, mixed) == mixed
        assert [type(x) for x in p.map(identity, mixed)] == \
            [type(x) for x in mixed]
        submitted = counters(tmp)["submitted"]
        # NaN among plain floats is refused with nothing submitted.
        try:
            p.map(identity, [0.5] * 1000 + [float("nan")])
            raise AssertionError("NaN crossed")
        except ValueError as e:
            assert "NaN" in str(e), e
        assert counters(tmp)["submitted"] == submitted
        if hasattr(sys, "get_int_max_str_digits"):
            # An int too long to write as text fails the map when its
            # chunk is encoded (jobs before it may have gone out).
            try:
                p.map(identity, list(range(20000)) + [10 ** 5000],
                      chunksize=1000)
                raise AssertionError("a 5000-digit int crossed")
            except ValueError as e:
                assert "digits" in str(e), e
            # A range is not scanned (its items are ints): the same.
            try:
                p.map(identity, range(10 ** 5000, 10 ** 5000 + 2))
                raise AssertionError("a 5000-digit int crossed")
            except ValueError as e:
                assert "digits" in str(e), e
        assert p.map(sqr, [3]) == [9]


def test_starmap_and_starmap_async(tmp):
    start(tmp)
    with pool(tmp) as p:
        pairs = list(zip(range(10), range(9, -1, -1)))
        want = list(itertools.starmap(mul, pairs))
        assert p.starmap(mul, pairs) == want
        assert p.starmap(mul, pairs, chunksize=20) == want
        assert p.starmap_async(mul, pairs).get(10) == want
        assert p.starmap_async(mul, iter(pairs), chunksize=3).get(10) == want


def test_empty_input_returns_at_once(tmp):
    start(tmp)
    with pool(tmp) as p:
        assert p.map(sqr, []) == []
        assert p.starmap(mul, []) == []
        got = []
        res = p.map_async(sqr, [], callback=got.append)
        assert res.ready() and res.get(0) == [] and got == [[]]
        assert list(p.imap(sqr, [])) == []
        assert list(p.imap_unordered(sqr, iter([]), chunksize=5)) == []
    assert counters(tmp)["submitted"] == 0


def test_imap_keeps_order_then_stops(tmp):
    start(tmp)
    with pool(tmp) as p:
        it = p.imap(sqr, list(range(10)))
        assert list(it) == [x * x for x in range(10)]
        it = p.imap(sqr, list(range(10)))
        for i in range(10):
            assert next(it) == i * i
        for _ in range(2):
            try:
                next(it)
                raise AssertionError("no StopIteration")
            except StopIteration:
                pass
        it = p.imap(sqr, list(range(1000)), chunksize=100)
        for i in range(1000):
            assert next(it) == i * i
        try:
            next(it)
            raise AssertionError("no StopIteration")
        except StopIteration:
            pass
        # A slow first item does not let later ones overtake it.
        assert list(p.imap(nap, [0.5, 0, 0, 0])) == [0.5, 0, 0, 0]


def test_imap_streams_a_slow_input(tmp):
    # Each item of an input that is slow to yield goes out as it comes,
    # not held for company: its result is back long before the next.
    start(tmp)

    def slow():
        yield 1
        time.sleep(3)
        yield 2
    with pool(tmp) as p:
        t0 = time.monotonic()
        it = p.imap(sqr, slow())
        assert next(it) == 1
        assert time.monotonic() - t0 < 2.5
        assert next(it) == 4


def test_imap_unordered(tmp):
    start(tmp)
    with pool(tmp) as p:
        it = p.imap_unordered(sqr, list(range(10)))
        assert sorted(it) == [x * x for x in range(10)]
        it = p.imap_unordered(sqr, list(range(1000)), chunksize=100)
        assert sorted(it) == [x * x for x in range(1000)]
        # A slow first job: the others come before it.
        got = list(p.imap_unordered(nap, [1.0, 0, 0, 0, 0]))
        assert sorted(got) == [0, 0, 0, 0, 1.0] and got[0] == 0, got


def test_exceptions_from_the_function(tmp):
    start(tmp)
    with pool(tmp) as p:
        try:
            p.apply(raising)
            raise AssertionError("no KeyError")
        except KeyError as e:
            assert e.args == ("key",), e.args
            assert isinstance(e.__cause__, mpsup.RemoteError)
            assert "raise KeyError" in e.__cause__.traceback
        try:
            p.map(fail_at, range(10))
            raise AssertionError("no ValueError")
        except ValueError as e:
            assert str(e) == "bad item 5", e
        # imap raises at the failing position and goes on after it.
        it = p.imap(fail_at, range(8))
        assert [next(it) for _ in range(5)] == [0, 1, 2, 3, 4]
        try:
            next(it)
            raise AssertionError("no ValueError")
        except ValueError:
            pass
        assert list(it) == [6, 7]
        # A type with no built-in equivalent: RemoteError with its name,
        # message and the worker's traceback.
        try:
            p.apply(my_error, (3,))
            raise AssertionError("no RemoteError")
        except mpsup.RemoteError as e:
            assert e.type_name == "pooltasks.MyError", e.type_name
            assert e.message == "mine 3", e.message
            assert "in my_error" in e.traceback, e.traceback
            assert e.job["state"] == "failed"
        errs = []
        res = p.map_async(fail_at, range(10), error_callback=errs.append)
        try:
            res.get(10)
            raise AssertionError("no ValueError")
        except ValueError:
            pass
        assert len(errs) == 1 and isinstance(errs[0], ValueError)
        assert not res.successful()


def test_exceptions_from_the_input(tmp):
    start(tmp)
    with pool(tmp) as p:
        # map reads its input in the caller: the error is raised there.
        for gen in (exception_throwing_generator(1, -1),
                    exception_throwing_generator(10, 3)):
            try:
                p.map(sqr, gen, 1)
                raise AssertionError("no SayWhenError")
            except SayWhenError:
                pass
        it = p.imap(sqr, exception_throwing_generator(10, 3), 1)
        for i in range(3):
            assert next(it) == i * i
        try:
            next(it)
            raise AssertionError("no SayWhenError")
        except SayWhenError:
            pass
        try:
            next(it)
            raise AssertionError("the iterator went on")
        except StopIteration:
            pass
        # With chunks, the error takes the failing chunk's place.
        it = p.imap(sqr, exception_throwing_generator(20, 7), 2)
        for i in range(6):
            assert next(it) == i * i
        try:
            next(it)
            raise AssertionError("no SayWhenError")
        except SayWhenError:
            pass
        it = p.imap_unordered(sqr, exception_throwing_generator(10, 3), 1)
        expected = [x * x for x in range(10)]
        try:
            for _ in range(10):
                value = next(it)
                expected.remove(value)
            raise AssertionError("no SayWhenError")
        except SayWhenError:
            pass


def test_what_crosses_as_json_and_what_is_refused(tmp):
    start(tmp)
    with pool(tmp) as p:
        got = p.apply(echo, (1, 2.5, "é", None, True, b"\x00\xff", (1, 2)),
                      {"d": {1: "one", "k": [b"x"]}})
        # Tuples come back as lists, dict keys as strings, bytes as bytes.
        assert got == [[1, 2.5, "é", None, True, b"\x00\xff", [1, 2]],
                       {"d": {"1": "one", "k": [b"x"]}}], got
        bad = [
            ((lambda x: x, (1,)), TypeError, "lambda"),
            ((identity, ({1, 2},)), TypeError, "set"),
            ((identity, (object(),)), TypeError, "object"),
            ((identity, (float("nan"),)), ValueError, "NaN"),
            ((identity, ({(1, 2): 3},)), TypeError, "keys"),
            ((p.apply, ()), TypeError, "bound method"),
        ]

        def local(x):
            return x
        bad.append(((local, (1,)), TypeError, "inside a function"))
        for (fn, args), exc, word in bad:
            try:
                p.apply_async(fn, args)
                raise AssertionError("%r crossed" % (args,))
            except exc as e:
                assert word in str(e), (word, str(e))
        try:
            p.map(identity, [1, 2, {3}])
            raise AssertionError("a set crossed")
        except TypeError:
            pass
        # Nothing was submitted by the refused calls.
        assert counters(tmp)["submitted"] == 1
        # A result that cannot cross fails its job, the worker stays.
        try:
            p.apply(pooltest.pooltasks.make_set)
            raise AssertionError("a set came back")
        except mpsup.RemoteError as e:
            assert e.type_name == "failed" and "not JSON" in e.message, e
        assert p.apply(identity, (7,)) == 7


def test_close_and_join_wait_for_every_job(tmp):
    start(tmp)
    p = pool(tmp)
    res = p.map_async(sqr, range(20), chunksize=1)
    slow = p.apply_async(sqr, (3, 0.5))
    try:
        p.join()
        raise AssertionError("join() before close()")
    except ValueError:
        pass
    p.close()
    try:
        p.map(sqr, [1])
        raise AssertionError("a closed pool took a job")
    except ValueError:
        pass
    p.join(timeout=20)
    assert slow.ready() and res.ready()
    assert res.get(0) == [i * i for i in range(20)] and slow.get(0) == 9
    p.terminate()
    assert counters(tmp)["done"] == 21


def test_pool_name_string_reference(tmp):
    start(tmp)
    with pool(tmp) as p:
        # A function named "module:qualname" need not exist here.
        assert p.apply("pooltasks:mul", (6, 7)) == 42
        assert p.map("pooltasks:sqr", [1, 2]) == [1, 4]
        try:
            p.apply("pooltasks", ())
            raise AssertionError("a bad name went out")
        except TypeError as e:
            assert "module:qualname" in str(e)


def test_runner_with_job_fds_3_4_keeps_stdout_for_the_log(tmp):
    sup = start(tmp, extra="job_fds = 3,4")
    with pool(tmp) as p:
        assert p.map(sqr, range(20), chunksize=3) == [x * x
                                                       for x in range(20)]
        assert p.apply(pooltest.pooltasks.shout, ("hello",)) == "hello"
    # print() in the function went to stdout, which is the log here.
    sup.wait_log(lambda line: "] out " in line and
                 line.endswith(": shouting hello"))


MAIN_SCRIPT = r'''
import sys
sys.path.insert(0, sys.argv[1])
import mpsup


def triple(x):
    return 3 * x


if __name__ == "__main__":
    with mpsup.Pool("py", config=sys.argv[2]) as p:
        print(p.map(triple, range(4)))
'''


def test_function_of_the_script_run_as_main(tmp):
    # Sent as runme:triple, which the workers import (without running
    # the script's __main__ block).
    start(tmp, allow="pooltasks,runme")
    import subprocess
    from harness import write
    script = write(os.path.join(tmp, "runme.py"), MAIN_SCRIPT)
    r = subprocess.run([sys.executable, script, pooltest.PYTHON_DIR,
                        os.path.join(tmp, "pool.ini")], capture_output=True,
                       text=True, timeout=60, cwd=tmp)
    assert r.returncode == 0 and r.stdout == "[0, 3, 6, 9]\n", r


if __name__ == "__main__":
    run_tests(globals(), timeout=60)
