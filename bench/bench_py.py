#!/usr/bin/env python3
"""The mpsup Python module beside the standard library, for `make bench`.

With the same number of workers on both sides (2), in one run:

  map     Pool.map(sqr, range(10**6)), default chunksize, against
          multiprocessing.Pool(2).map;
  imap    list(Pool.imap(sqr, range(10**5), chunksize=1)) against
          multiprocessing.Pool(2).imap;
  submit  Executor.submit round trips (all submitted, then every result
          taken) against concurrent.futures.ProcessPoolExecutor(2).

The mpsup side starts its own supervisor (a stream pool of 2
`python3 -m mpsup.worker` runners) in a temp dir and kills its process
group on the way out. Every result is checked. Prints one line per
benchmark: "bench_py: name=... mpsup_s=... local_s=... n=...".

    bench_py.py MPSUP SRCDIR [--scale F]
"""
import argparse
import concurrent.futures
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

WORKERS = 2
# The pool's prefetch unless bench_py.py --prefetch N says otherwise.
PREFETCH = 16

TASKS = "def sqr(x):\n    return x * x\n"


def start_supervisor(mpsup, srcdir, tmp, prefetch):
    with open(os.path.join(tmp, "benchtasks.py"), "w") as f:
        f.write(TASKS)
    with open(os.path.join(tmp, "pool.ini"), "w") as f:
        f.write("[supervisor]\nlisten = unix:mpsup.sock\nstatus =\n"
                "log = mpsup.log\n"
                "\n[pool:py]\ntype = stream\nworkers = %d\nprefetch = %d\n"
                "command = %s -m mpsup.worker --allow benchtasks\n"
                "env = PYTHONPATH=%s\n"
                % (WORKERS, prefetch, sys.executable,
                   os.path.join(srcdir, "python")))
    proc = subprocess.Popen([mpsup, "-c", "pool.ini"], cwd=tmp,
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                            start_new_session=True)
    import mpsup as m
    deadline = time.monotonic() + 30
    while True:
        try:
            with m.Client(config=os.path.join(tmp, "pool.ini"),
                          timeout=5) as c:
                p = c.status()["pools"][0]
                if p["workers_idle"] == WORKERS:
                    return proc
        except m.Error:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("bench_py: the supervisor did not start")
        time.sleep(0.05)


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def check(got, n):
    if len(got) != n or got[-1] != (n - 1) ** 2 or got[n // 2] != \
            (n // 2) ** 2:
        raise SystemExit("bench_py: wrong results")


def bench_mpsup(ini, n_map, n_imap, n_submit):
    import mpsup
    from benchtasks import sqr
    out = {}
    with mpsup.Pool("py", config=ini) as p:
        p.map(sqr, range(1000))     # warm: the workers have imported
        out["map"] = timed(lambda: check(p.map(sqr, range(n_map)), n_map))
        out["imap"] = timed(lambda: check(list(p.imap(sqr, range(n_imap),
                                                        chunksize=1)),
                                          n_imap))
    with mpsup.Executor("py", config=ini) as ex:
        ex.submit(sqr, 1).result()

        def submit():
            fs = [ex.submit(sqr, i) for i in range(n_submit)]
            check([f.result() for f in fs], n_submit)
        out["submit"] = timed(submit)
    return out


def bench_local(n_map, n_imap, n_submit):
    from benchtasks import sqr
    out = {}
    with multiprocessing.Pool(WORKERS) as p:
        p.map(sqr, range(1000))
        out["map"] = timed(lambda: check(p.map(sqr, range(n_map)), n_map))
        out["imap"] = timed(lambda: check(list(p.imap(sqr, range(n_imap),
                                                        chunksize=1)),
                                          n_imap))
    with concurrent.futures.ProcessPoolExecutor(WORKERS) as ex:
        ex.submit(sqr, 1).result()

        def submit():
            fs = [ex.submit(sqr, i) for i in range(n_submit)]
            check([f.result() for f in fs], n_submit)
        out["submit"] = timed(submit)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mpsup")
    ap.add_argument("srcdir")
    ap.add_argument("--prefetch", type=int, default=PREFETCH,
                    help="the pool's prefetch (default %(default)s)")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply every size (e.g. 0.2 for --quick)")
    args = ap.parse_args()
    sys.path.insert(0, os.path.join(os.path.abspath(args.srcdir), "python"))
    n_map = int(10 ** 6 * args.scale)
    n_imap = int(10 ** 5 * args.scale)
    n_submit = int(20000 * args.scale)
    tmp = tempfile.mkdtemp(prefix="mpsup-bench-py.")
    sys.path.insert(0, tmp)
    proc = None
    try:
        proc = start_supervisor(os.path.abspath(args.mpsup),
                                os.path.abspath(args.srcdir), tmp,
                                args.prefetch)
        ours = bench_mpsup(os.path.join(tmp, "pool.ini"), n_map, n_imap,
                           n_submit)
        local = bench_local(n_map, n_imap, n_submit)
    finally:
        if proc is not None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    for name, n in (("map", n_map), ("imap", n_imap), ("submit", n_submit)):
        print("bench_py: name=%s n=%d mpsup_s=%.3f local_s=%.3f"
              % (name, n, ours[name], local[name]), flush=True)


if __name__ == "__main__":
    main()
