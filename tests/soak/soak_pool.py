#!/usr/bin/env python3
"""Soak: mpsup.Pool against multiprocessing.Pool, call for call.

Random programs (map, map_async, imap, imap_unordered, starmap, apply,
apply_async, with and without chunksize, over empty and long inputs,
functions that raise, values of every JSON type) run on a local
multiprocessing.Pool(2) and on mpsup.Pool("py") of a supervisor with two
mpsup.worker runners. Their results, or the type and text of what they
raise, must be the same (imap_unordered's in any order).
"""
import multiprocessing
import os
import random
import sys

import soaklib
sys.path.insert(0, os.path.join(soaklib.HERE, "..", "integration"))
import pooltest  # noqa: E402
import pooltasks as T  # noqa: E402


def value(rng):
    return rng.choice([0, 1, -5, 10 ** 12, 2.5, True, None, "s",
                       "\u00e9\u4e2d\U0001F600", [], [1, [2, [3]]], {"a": 1},
                       {"k": [None, 1.5]}, "x" * rng.randint(0, 5000)])


def program(rng):
    n = rng.choice([0, 1, 2, 5, 50, 300])
    return (rng.choice(["map", "map_async", "imap", "imap_unordered",
                        "starmap", "apply", "apply_async", "starmap_async",
                        "map_raises", "imap_raises", "apply_raises",
                        "identity"]),
            [rng.randint(-1000, 1000) for _ in range(n)],
            rng.choice([None, 1, 2, 7, 100]),
            [value(rng) for _ in range(n)])


def call(p, prog):
    kind, xs, cs, vals = prog
    try:
        if kind == "map":
            return p.map(T.sqr, xs, cs)
        if kind == "map_async":
            return p.map_async(T.sqr, xs, cs).get(60)
        if kind == "imap":
            return list(p.imap(T.sqr, xs, cs or 1))
        if kind == "imap_unordered":
            return sorted(p.imap_unordered(T.sqr, xs, cs or 1))
        if kind == "starmap":
            return p.starmap(T.mul, [(x, x + 1) for x in xs], cs)
        if kind == "apply":
            return p.apply(T.mul, (len(xs), 3))
        if kind == "apply_async":
            return [p.apply_async(T.sqr, (x,)).get(60) for x in xs[:20]]
        if kind == "starmap_async":
            return p.starmap_async(T.echo, [(x, "a") for x in xs[:30]],
                                   cs).get(60)
        if kind == "map_raises":
            return p.map(T.fail_at, xs + [5] + xs, cs)
        if kind == "imap_raises":
            return list(p.imap(T.fail_at, xs + [5], cs or 1))
        if kind == "apply_raises":
            return p.apply(T.raising)
        return p.map(T.identity, vals, cs)
    except Exception as e:  # noqa: BLE001 (what is compared)
        return ("raised", type(e).__name__, str(e))


def main():
    a = soaklib.args(__doc__)
    run = soaklib.Run("pool", a)
    rng = random.Random(a.seed)
    sup = pooltest.start(run.dir, workers=2)

    def body():
        with multiprocessing.Pool(2) as local, pooltest.pool(run.dir) as ours:
            while run.running():
                prog = program(rng)
                want, got = call(local, prog), call(ours, prog)
                run.count(prog[0])
                if want != got:
                    run.fail("%s over %d items, chunksize %s:\n    "
                             "multiprocessing: %.300r\n    mpsup: %.300r" % (
                                 prog[0], len(prog[1]), prog[2], want, got))
        if sup.stop() != 0:
            run.fail("mpsup did not stop with 0")
    return run.conclude([sup.stderr_path], body)

if __name__ == "__main__":
    sys.exit(main())
