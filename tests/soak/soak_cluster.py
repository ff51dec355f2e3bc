#!/usr/bin/env python3
"""Soak: two cluster nodes on one redis-server, with both of them killed.

A private redis-server (AOF, appendfsync always) and two nodes of a
stream pool. Four clients submit batches (keys, priorities, delays) to
either node; one reads, waits and cancels through both; one keeps
eight waits without a timeout open through both; one kills workers and
reloads nodes. A third of the way in, Redis is killed with
SIGKILL and restarted on its AOF; two thirds in, node b is. Every
submit must be answered ok or with an error its op may give. Then
every job acknowledged must end (through node a), no job may have run
more often than its record's attempts, every wait still open must be
answered (with the job ended, or not_found once its record is gone), both nodes must stop with 0, and
no sanitizer report.
"""
import json
import os
import random
import signal
import sys
import time
from collections import Counter

import soaklib
from multiprocessing.connection import wait as wait_ready
from harness import connect, request, wait_for, worker_pids  # noqa: E402
from redisd import Redisd  # noqa: E402
import test_cluster as TC  # noqa: E402

MAY_FAIL = {
    "submit": {"queue_full", "unavailable"},
    "result": {"not_found", "timeout", "unavailable"},
    "cancel": {"not_found", "bad_request", "unavailable"},
    "wait": {"not_found", "unavailable"},
    "status": set(),
}
ENDED = ("done", "failed", "timed_out", "cancelled")


def answered(run, what, r):
    if not r.get("ok") and r.get("error") not in MAY_FAIL[what]:
        raise AssertionError("%s: %r" % (what, r))
    run.count("%s:%s" % (what, "ok" if r.get("ok") else r["error"]))
    return r


def submitter(run, nodes, acked, n):
    rng = random.Random(run.a.seed * 10 + n)
    name, c = "ab"[n % 2], None
    while run.running():
        try:
            if c is None:
                c = connect(nodes[name].dir)
            jobs = []
            for _ in range(rng.randint(1, 20)):
                j = {"data": rng.choice([0] * 18 + [0.01, "x" * 3000])}
                if rng.random() < 0.1:
                    j["key"] = "k%d-%d" % (n, rng.randint(0, 100))
                if rng.random() < 0.2:
                    j["priority"] = rng.randint(-3, 3)
                if rng.random() < 0.05:
                    j["delay"] = 0.2
                jobs.append(j)
            r = answered(run, "submit", request(c, {
                "op": "submit_many", "pool": "p", "jobs": jobs}))
            if r.get("ok"):
                acked.update(r["ids"])
        except (EOFError, OSError):
            run.count("submit:connection_lost")     # node b restarting
            c = None
            time.sleep(0.2)
        time.sleep(0.05)


def reader(run, nodes, acked):
    rng = random.Random(run.a.seed * 7)
    conns = {}
    while run.running():
        name = rng.choice("ab")
        try:
            if name not in conns:
                conns[name] = connect(nodes[name].dir)
            if not acked:
                time.sleep(0.05)
                continue
            op = rng.choice(["result", "result", "cancel", "status"])
            req = {"op": op}
            if op != "status":
                req["id"] = rng.choice(tuple(acked))
            if op == "result":
                req.update(wait=rng.random() < 0.2, timeout=0.5)
            answered(run, op, request(conns[name], req))
        except (EOFError, OSError):
            conns.pop(name, None)
            run.count("reader:connection_lost")
            time.sleep(0.2)
        time.sleep(0.003)


def wait_answered(run, waits, c):
    """The answer to the wait open on c: an ended job, or an error a
    wait may give; the connection is closed either way."""
    name, i = waits.pop(c)
    try:
        r = answered(run, "wait", json.loads(c.recv_bytes()))
        if r.get("ok") and r["job"]["state"] not in ENDED:
            raise AssertionError("wait for %s through %s: %r" % (i, name, r))
    except (EOFError, OSError):
        run.count("wait:connection_lost")   # node b restarting
    c.close()


def waiter(run, nodes, acked, waits):
    """Waits with no timeout, each on a connection of its own, through
    either node: each is answered when its job ends (or once its record
    is gone), never left open; what is open at the end is checked then."""
    rng = random.Random(run.a.seed * 17)
    while run.running():
        if len(waits) < 8 and acked:
            name, i = rng.choice("ab"), rng.choice(tuple(acked))
            try:
                c = connect(nodes[name].dir, timeout=2)
                c.send_bytes(json.dumps({"op": "result", "id": i,
                                         "wait": True}).encode())
                waits[c] = (name, i)
            except (EOFError, OSError, AssertionError):
                run.count("wait:connection_lost")
        for c in wait_ready(list(waits), timeout=0.05) if waits else ():
            wait_answered(run, waits, c)
        time.sleep(0.01)


def waits_answered(run, waits, redis):
    """Every job has ended: each wait still open must be answered."""
    end = time.monotonic() + 30
    while waits and time.monotonic() < end:
        for c in wait_ready(list(waits), timeout=0.5):
            wait_answered(run, waits, c)
    if waits:
        run.fail("%d waits never answered, e.g. %s" % (len(waits), [
            (name, i, TC.record(redis, i)) for name, i in
            list(waits.values())[:3]]))


def operator(run, nodes):
    rng = random.Random(run.a.seed * 13)
    while run.running():
        time.sleep(rng.uniform(0.05, 0.4))
        node = nodes[rng.choice("ab")]
        if node.sup.proc.poll() is not None:
            continue
        if rng.random() < 0.7:
            pids = worker_pids(node.sup, "p")
            if pids:
                try:
                    os.kill(rng.choice(pids), signal.SIGKILL)
                    run.count("worker_killed")
                except ProcessLookupError:
                    pass
        else:
            os.kill(node.sup.pid, signal.SIGHUP)
            run.count("reload")


def all_ended(run, nodes, acked, redis):
    c = connect(nodes["a"].dir)
    states, attempts, last = {}, {}, {}

    def ended():
        last.clear()
        for i in list(acked):
            if i in states:
                continue
            r = request(c, {"op": "result", "id": i})
            if r.get("ok") and r["job"]["state"] in ENDED:
                states[i] = r["job"]["state"]
                attempts[i] = r["job"]["attempts"]
            elif not r.get("ok") and r.get("error") == "not_found":
                states[i] = "pruned"
            else:
                last[i] = r
                if len(last) >= 5:
                    return False
        return not last
    try:
        wait_for(ended, 400, 0.5, "every acknowledged job to end")
    except AssertionError:
        # What node a answered and what Redis holds, for a few of them.
        run.fail("jobs not ended, e.g. %s" % [
            (i, r.get("job", {}).get("state") or r.get("error"),
             TC.record(redis, i)) for i, r in last.items()])
        return
    run.count("ended:%s" % dict(Counter(states.values())))
    # A job runs again only as a new attempt: after its worker or node
    # died (w.py logs a job before it answers), never unaccounted for.
    runs = TC.done_ids(run.dir)
    over = [(i, n, attempts[i]) for i, n in runs.items()
            if i in attempts and n > attempts[i]]
    run.count("ran_again:%d" % sum(1 for n in runs.values() if n > 1))
    if over:
        run.fail("%d jobs ran more often than their attempts, e.g. (id, "
                 "runs, attempts) %s" % (len(over), over[:3]))


def main():
    a = soaklib.args(__doc__)
    run = soaklib.Run("cluster", a)
    TC.cluster_authkey(run.dir)
    acked = set()
    waits = {}

    def load(redis, nodes):
        threads = [run.thread(submitter, run, nodes, acked, n)
                   for n in range(4)]
        threads += [run.thread(reader, run, nodes, acked),
                    run.thread(waiter, run, nodes, acked, waits),
                    run.thread(operator, run, nodes)]
        t0 = time.monotonic()
        redis_at, node_at = t0 + a.seconds * 0.3, t0 + a.seconds * 0.6
        while run.running():
            time.sleep(0.5)
            if nodes["a"].sup.proc.poll() is not None:
                run.fail("node a exited %r" % nodes["a"].sup.proc.returncode)
            if redis_at and time.monotonic() > redis_at:
                redis_at = None
                redis.kill9()
                time.sleep(1)
                redis.restart()
                run.count("redis_restarted")
            if node_at and time.monotonic() > node_at:
                node_at = None
                nodes["b"].kill9()
                time.sleep(0.5)
                nodes["b"].start()
                run.count("node_restarted")
        run.hold(threads)

    def body():
        with Redisd(run.dir, appendonly=True, appendfsync="always") as redis:
            # result_max well under the jobs a run ends, so that Redis
            # drops buckets of records while they are read and written.
            nodes = {n: TC.Node(run.dir, n, redis, workers=2, prefetch=4,
                                lease="2s", extra_sup="result_max = 20000\n")
                     for n in "ab"}
            load(redis, nodes)
            if not run.errors:
                all_ended(run, nodes, acked, redis)
            if not run.errors:
                waits_answered(run, waits, redis)
            for n in "ab":
                if nodes[n].sup.proc.poll() is None and \
                        nodes[n].sup.stop() != 0:
                    run.fail("node %s did not stop with 0" % n)
    return run.conclude([os.path.join(run.dir, n, "stderr.txt")
                         for n in "ab"], body)


if __name__ == "__main__":
    sys.exit(main())
