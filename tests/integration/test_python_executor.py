"""mpsup.Executor against a real supervisor (the behaviour of
concurrent.futures' own executor tests: submit, map with timeout and
chunksize, shutdown with cancel_futures), and what goes wrong around
mpsup.Pool: an unknown pool, a wrong key, a module outside --allow, the
supervisor stopped in the middle of an imap, a worker killed in the
middle of a map, endless input, terminate().
"""
import concurrent.futures
import itertools
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import run_tests, wait_for, worker_pids, write  # noqa: E402
from pooltest import PYTHON_DIR, counters, mpsup, pool, start  # noqa: E402
from pooltasks import mul, nap, raising, sqr  # noqa: E402


def executor(tmp):
    return mpsup.Executor("py", config=os.path.join(tmp, "pool.ini"))


def test_executor_submit_map_and_futures(tmp):
    start(tmp)
    ex = executor(tmp)
    assert ex.submit(mul, 2, 8).result(10) == 16
    assert ex.submit(mul, 2, y=8).result(10) == 16
    assert isinstance(ex.submit(raising).exception(10), KeyError)
    assert list(ex.map(mul, range(10), range(10))) == [i * i
                                                        for i in range(10)]
    assert list(ex.map(mul, range(10), range(10), chunksize=3)) == \
        [i * i for i in range(10)]
    fs = [ex.submit(nap, w) for w in (0.6, 0, 0.2)]
    done = [f.result() for f in concurrent.futures.as_completed(fs, 10)]
    assert sorted(done) == [0, 0.2, 0.6]
    first = concurrent.futures.wait(
        [ex.submit(nap, 5), ex.submit(nap, 0)], 10,
        concurrent.futures.FIRST_COMPLETED)
    assert [f.result() for f in first.done] == [0], first
    ex.shutdown(wait=False, cancel_futures=True)
    try:
        ex.submit(mul, 1, 1)
        raise AssertionError("submit after shutdown")
    except RuntimeError:
        pass


def test_executor_map_times_out(tmp):
    start(tmp)
    ex = executor(tmp)
    results = []
    t0 = time.monotonic()
    try:
        for r in ex.map(nap, [0, 0, 10.0], timeout=3):
            results.append(r)
        raise AssertionError("map did not time out")
    except concurrent.futures.TimeoutError:
        pass
    assert results == [0, 0], results
    assert 2.9 < time.monotonic() - t0 < 9
    ex.shutdown(wait=False)


def test_executor_shutdown_cancels_queued_jobs(tmp):
    start(tmp, workers=1)
    ex = executor(tmp)
    fs = [ex.submit(nap, 0.1) for _ in range(50)]
    ex.shutdown(cancel_futures=True)
    cancelled = [f for f in fs if f.cancelled()]
    others = [f for f in fs if not f.cancelled()]
    assert len(cancelled) > 20, len(cancelled)
    assert others, "nothing finished"
    for f in others:
        assert f.done() and f.exception() is None and f.result() == 0.1
    # The supervisor agrees: the jobs were cancelled there, not dropped
    # here.
    jobs = counters(tmp)
    assert jobs["cancelled"] == len(cancelled), (jobs, len(cancelled))
    assert jobs["done"] == len(others), jobs


def test_future_cancel_only_before_the_job_starts(tmp):
    start(tmp, workers=1)
    ex = executor(tmp)
    running = ex.submit(nap, 3.0)
    queued = ex.submit(nap, 0)
    wait_for(lambda: queued.job_id and counters(tmp)["running"] == 1)
    assert queued.cancel() and queued.cancelled()
    assert not running.cancel()
    assert running.result(10) == 3.0
    assert counters(tmp)["cancelled"] == 1
    ex.shutdown()


def test_unknown_pool_wrong_key_no_address(tmp):
    start(tmp)
    ini = os.path.join(tmp, "pool.ini")
    for make in (mpsup.Pool, mpsup.Executor):
        try:
            make("nope", config=ini)
            raise AssertionError("an unknown pool was taken")
        except mpsup.Error as e:
            assert e.code == "unknown_pool" and "has py" in e.message, e
    bad = write(os.path.join(tmp, "badkey"), "0" * 64 + "\n")
    try:
        mpsup.Pool("py", address="unix:" + os.path.join(tmp, "mpsup.sock"),
                   authkey_file=bad)
        raise AssertionError("a wrong key was taken")
    except mpsup.AuthenticationError as e:
        assert e.code == "authentication" and "refused" in e.message
    try:
        mpsup.Pool("py", address="unix:" + os.path.join(tmp, "nosuch"),
                   authkey=b"k")
        raise AssertionError("connected to nothing")
    except mpsup.Error as e:
        assert e.code == "connection", e
    os.environ.pop("MPSUP_ADDRESS", None)
    cwd = os.getcwd()
    os.chdir("/")
    try:
        mpsup.Pool("py")
        raise AssertionError("a pool without an address")
    except mpsup.Error as e:
        assert e.code == "config" and "MPSUP_ADDRESS" in e.message, e
    finally:
        os.chdir(cwd)


def test_exec_pool_is_refused(tmp):
    text = harness.config("supervisor") + harness.config(
        "pool_exec", name="sh", workers=1, extra="")
    harness.Supervisor(tmp, text)
    wait_for(lambda: os.path.exists(os.path.join(tmp, "authkey")))
    time.sleep(0.2)
    try:
        mpsup.Pool("sh", config=os.path.join(tmp, "pool.ini"))
        raise AssertionError("an exec pool was taken")
    except mpsup.Error as e:
        assert "exec pool" in e.message, e


def test_modules_outside_allow_are_refused(tmp):
    start(tmp)
    marker = os.path.join(tmp, "pwned")
    with pool(tmp) as p:
        for ref, word in (("os:system", "not allowed"),
                          ("pooltasks:os.system", "not a function"),
                          ("pooltasks:time.sleep", "not a function"),
                          ("pooltasks:sqr.__globals__", "'_'")):
            try:
                p.apply(ref, ("touch " + marker,))
                raise AssertionError("%s ran" % ref)
            except PermissionError as e:
                assert word in str(e), (ref, str(e))
        assert p.apply(sqr, (3,)) == 9
    assert not os.path.exists(marker)
    # A runner cannot be told to allow builtins (eval, exec).
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR)
    r = subprocess.run([sys.executable, "-m", "mpsup.worker", "--allow",
                        "pooltasks,builtins"], env=env, capture_output=True,
                       text=True, timeout=20, stdin=subprocess.DEVNULL)
    assert r.returncode == 2 and "builtins" in r.stderr, r


def test_supervisor_stopped_mid_imap_raises(tmp):
    sup = start(tmp, sup_extra="shutdown_timeout = 1s")
    p = pool(tmp)
    it = p.imap(nap, itertools.repeat(0.05))
    for _ in range(5):
        next(it)
    sup.signal(signal.SIGTERM)
    t0 = time.monotonic()
    try:
        for _ in it:
            pass
        raise AssertionError("endless input ended")
    except mpsup.Error as e:
        # Its waits are answered shutting_down at the stop; its submit
        # connection may close first (the module's "connection").
        assert e.code in ("shutting_down", "connection"), e
    assert time.monotonic() - t0 < 10
    assert sup.wait(15) == 0
    p.terminate()


def test_worker_killed_mid_map_every_result_once(tmp):
    sup = start(tmp, extra="max_attempts = 3\nretry_delay = 100ms")
    with pool(tmp) as p:
        res = p.starmap_async(sqr, [(i, 0.02) for i in range(200)],
                              chunksize=1)
        wait_for(lambda: counters(tmp)["done"] >= 20)
        os.kill(worker_pids(sup, "py")[0], signal.SIGKILL)
        assert res.get(60) == [i * i for i in range(200)]
    jobs = counters(tmp)
    assert jobs["done"] == 200 and jobs["failed"] == 0, jobs
    assert jobs["retried"] >= 1, jobs


def test_endless_input_keeps_a_bounded_window(tmp):
    start(tmp)
    pulled = [0]

    def items():
        for i in itertools.count():
            pulled[0] += 1
            yield i
    with pool(tmp, window=50) as p:
        it = p.imap_unordered(sqr, items())
        most = 0
        for n, _ in enumerate(it, 1):
            # Never more than the window ahead of what was taken.
            assert pulled[0] <= n + 50 + 1, (pulled[0], n)
            if n % 100 == 0:
                jobs = counters(tmp)
                most = max(most, jobs["queued"] + jobs["running"])
            if n == 2000:
                break
        assert most <= 50, most


def test_terminate_cancels_what_it_queued(tmp):
    start(tmp, workers=1)
    p = pool(tmp)
    res = p.map_async(nap, [0.2] * 30, chunksize=1)
    wait_for(lambda: counters(tmp)["running"] == 1)
    p.terminate()
    try:
        res.get(10)
        raise AssertionError("a terminated map completed")
    except (mpsup.Error, mpsup.RemoteError):
        pass
    jobs = wait_for(lambda: (lambda j: j if j["queued"] == 0 and
                             j["running"] == 0 else None)(counters(tmp)))
    assert jobs["cancelled"] >= 25, jobs


def test_terminate_during_imap_raises_instead_of_hanging(tmp):
    start(tmp)
    p = pool(tmp, window=20)
    it = p.imap(nap, itertools.repeat(0.01))
    next(it)
    stopper = threading.Timer(0.5, p.terminate)
    stopper.start()
    t0 = time.monotonic()
    try:
        for _ in it:
            pass
        raise AssertionError("endless input ended")
    except mpsup.Error as e:
        assert e.code in ("terminated", "connection"), e
    except mpsup.RemoteError as e:
        assert e.type_name == "cancelled", e
    stopper.join()
    assert time.monotonic() - t0 < 10
    jobs = wait_for(lambda: (lambda j: j if j["queued"] == 0 and
                             j["running"] == 0 else None)(counters(tmp)))
    assert jobs["submitted"] == jobs["done"] + jobs["cancelled"], jobs


if __name__ == "__main__":
    run_tests(globals(), timeout=60)
