#!/usr/bin/env python3
"""Python baseline for `make bench`: multiprocessing.Pool(2).imap with a
trivial function and chunksize=1, i.e. one task per message, which is the
job granularity the end-to-end benchmark measures for mpsup.

Prints one key=value line on stdout for bench/run.py.
"""

import multiprocessing
import sys
import time


def f(x):
    return x


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
    with multiprocessing.Pool(2) as pool:
        # Untimed warm-up: the workers are forked and importing by now.
        for _ in pool.imap(f, range(1000), chunksize=1):
            pass
        t0 = time.perf_counter()
        expect = 0
        for r in pool.imap(f, range(n), chunksize=1):
            if r != expect:
                sys.exit("bench_mp: task %d returned %r" % (expect, r))
            expect += 1
        dt = time.perf_counter() - t0
    if expect != n:
        sys.exit("bench_mp: %d of %d tasks returned" % (expect, n))
    print("bench_mp: tasks=%d seconds=%.3f tasks_per_s=%.0f us_per_task=%.3f"
          % (n, dt, n / dt, dt * 1e6 / n))


if __name__ == "__main__":
    main()
