#!/usr/bin/env python3
"""Soak: many clients, random requests, worker kills, reloads, hostile frames.

One supervisor (--store memory | normal | full: the SQLite store and its
store_sync), a stream pool with priorities, groups, delays, keys, retries,
group_concurrency and rate_limit, and an exec pool whose jobs fail, time
out, kill themselves and write output. Three clients submit batches;
one reads, cancels, lists and retries dead letters; one pauses, resumes,
scales, restarts, kills workers and reloads (now and then from a changed
config: workers, prefetch, a pool added or removed); one sends hostile
frames and wrong keys. Every reply must be one its op may give. Then the
load stops, the queues must drain, the counters must add up, SIGTERM must
end mpsup with 0, and with SQLite a restart on the same database must add
up too. A sanitizer report in mpsup's stderr fails the run.
"""
import json
import os
import random
import signal
import socket
import struct
import sys
import time
from multiprocessing.connection import Client

import soaklib
from harness import (BUILDDIR, Supervisor, check_invariant, config,  # noqa: E402
                     connect, request, wait_for, worker_pids)

# The drain fails when no job has ended for DRAIN_STALL_S, or when it
# takes longer than DRAIN_MAX_S in all.
DRAIN_STALL_S = 60
DRAIN_MAX_S = 1800

# What each op may answer, besides ok.
MAY_FAIL = {
    "submit_many": {"queue_full", "timeout"},
    "submit_x": {"queue_full", "timeout"},
    "cancel": {"not_found", "bad_request"},     # unknown, or ended already
    "result": {"not_found", "timeout"},
    "logs": {"not_found"},
}


def conf(run, workers=3, prefetch=4, extra_pool=False, x_workers=2):
    store = run.a.store
    store = "store = memory\n" if store == "memory" else \
        "store = sqlite:jobs.db\nstore_sync = %s\n" % store
    text = config("supervisor", legacy_md5="yes", extra=(
        "log = out.log\n%sresult_max = 3000\nresult_ttl = 30s\n" % store))
    text += config("pool_echo", name="p", workers=workers, work_us=100, extra=(
        "prefetch = %d\nmax_attempts = 3\nretry_delay = 5ms\n"
        "restart_delay = 5ms\nmax_queue = 20000\ngroup_concurrency = 2\n"
        "rate_limit = 20000/s\n" % prefetch))
    text += config("pool_exec", name="x", workers=x_workers, extra=(
        "max_attempts = 2\nmax_queue = 2000\njob_timeout = 2s\n"))
    if extra_pool:
        text += "[pool:z]\ntype = stream\nworkers = 1\ncommand = %s\n" % (
            os.path.join(BUILDDIR, "examples", "echo_worker"))
    return text


def checked(run, what, r):
    if not isinstance(r, dict):
        raise AssertionError("%s: not an object: %r" % (what, r))
    if not r.get("ok") and r.get("error") not in MAY_FAIL.get(what, ()):
        raise AssertionError("%s: %r" % (what, r))
    run.count("%s:%s" % (what, "ok" if r.get("ok") else r["error"]))
    return r


def stream_job(rng):
    j = {"data": rng.choice([1, None, 3.5, "x" * rng.randint(0, 200),
                             {"a": [1, {"b": "\u00e9\u4e2d"}]},
                             "z" * rng.randint(1000, 20000)])}
    if rng.random() < 0.2:
        j["priority"] = rng.randint(-10, 10)
    if rng.random() < 0.3:
        j["group"] = "g%d" % rng.randint(0, 5)
    if rng.random() < 0.1:
        j["delay"] = rng.choice(["10ms", "200ms", 0.05])
    if rng.random() < 0.1:
        j["key"] = "k%d" % rng.randint(0, 300)
    return j


EXEC_JOBS = ["true", "exit 3", "echo hi; echo err >&2", "sleep 0.05",
             "kill -9 $$", "sleep 5", "head -c 100000 /dev/zero | tr '\\0' a"]


def submitter(run, ids, n):
    rng = random.Random(run.a.seed * 100 + n)
    c = connect(run.dir)
    while run.running():
        if rng.random() < 0.7:
            r = checked(run, "submit_many", request(c, {
                "op": "submit_many", "pool": "p", "wait": rng.random() < 0.3,
                "timeout": 5, "jobs": [stream_job(rng) for _ in
                                       range(rng.randint(1, 300))]}))
            if r.get("ok"):
                ids.extend(r["ids"][:5])
        else:
            r = checked(run, "submit_x", request(c, {
                "op": "submit", "pool": "x", "shell": rng.choice(EXEC_JOBS),
                "wait": rng.random() < 0.5, "timeout": 5}))
            if r.get("ok"):
                ids.append(r["id"])


def reader(run, ids):
    rng = random.Random(run.a.seed * 7)
    c = connect(run.dir)
    while run.running():
        some = ids[rng.randrange(len(ids))] if ids else "0123456789abcdef"
        op = rng.choice(["status", "result", "cancel", "jobs", "dead",
                         "logs", "retry"])
        req = {"op": op}
        if op in ("result", "cancel"):
            req.update(id=some, wait=rng.random() < 0.3, timeout=0.5)
            if op == "cancel":
                del req["wait"], req["timeout"]
        elif op == "jobs":
            req.update(pool=rng.choice(["p", "x"]), limit=50, state=rng.choice(
                ["failed,timed_out", "queued", "running", "done"]))
        elif op == "logs":
            req.update(pool="x", job=some, limit=10)
        elif op == "retry":
            req.update(pool=rng.choice(["p", "x"]), all=True)
        checked(run, op, request(c, req))
        time.sleep(0.005)


def operator(run, sup):
    rng = random.Random(run.a.seed * 13)
    c = connect(run.dir)
    while run.running():
        time.sleep(rng.uniform(0.05, 0.5))
        op = rng.choice(["pause", "scale", "kill", "kill", "kill", "hup",
                         "restart"])
        if op == "pause":
            checked(run, "pause", request(c, {"op": "pause", "pool":
                                              rng.choice(["p", "x"])}))
            time.sleep(rng.uniform(0, 0.2))
            for pool in ("p", "x"):
                checked(run, "resume", request(c, {"op": "resume",
                                                   "pool": pool}))
        elif op == "scale":
            checked(run, "scale", request(c, {"op": "scale", "pool": "p",
                                              "workers": rng.randint(1, 5)}))
        elif op == "kill":
            pids = worker_pids(sup, rng.choice(["p", "x"]))
            if pids:
                try:
                    os.kill(rng.choice(pids), signal.SIGKILL)
                    run.count("kill")
                except ProcessLookupError:
                    pass
        elif op == "hup":
            if rng.random() < 0.5:
                with open(os.path.join(run.dir, "pool.ini"), "w") as f:
                    f.write(conf(run, rng.randint(1, 4), rng.randint(1, 8),
                                 rng.random() < 0.5, rng.randint(1, 3)))
                run.count("reload:changed")
            os.kill(sup.pid, signal.SIGHUP)
            run.count("reload")
        else:
            checked(run, "restart", request(c, {"op": "restart",
                                                "pool": "p"}))


def hostile(run):
    """Bytes no client sends: whatever they do to their own connection,
    the others must not notice."""
    rng = random.Random(run.a.seed * 17)
    path = os.path.join(run.dir, "mpsup.sock")
    frames = [b"{", b"[]", b"{\"op\":1}", b"\xff\xfe",
              json.dumps({"op": "submit_many", "pool": "p",
                          "jobs": [{}] * 5}).encode()[:-3]]
    while run.running():
        kind = rng.randint(0, 4)
        try:
            if kind <= 1:
                s = socket.socket(socket.AF_UNIX)
                s.settimeout(2)
                s.connect(path)
                s.sendall(os.urandom(rng.randint(0, 300)))
                if rng.random() < 0.5:
                    s.sendall(struct.pack("!i", rng.choice(
                        [-1, 0, 1 << 30, 5])) + b"xx")
                s.close()
                run.count("hostile:raw")
            elif kind == 2:
                try:
                    Client(path, authkey=b"wrong").close()
                    raise AssertionError("a wrong key was let in")
                except Exception as e:  # noqa: BLE001
                    if isinstance(e, AssertionError):
                        raise
                    run.count("hostile:wrong_key")
            else:
                c = connect(run.dir)
                c.send_bytes(rng.choice(frames))
                r = json.loads(c.recv_bytes())
                assert r.get("error") == "bad_request", r
                run.count("hostile:bad_request")
                c.close()
        except (OSError, EOFError):
            run.count("hostile:dropped")
        time.sleep(0.01)


def drain_and_check(run, sup):
    c = connect(run.dir)
    for pool in ("p", "x"):
        request(c, {"op": "resume", "pool": pool})

    # Draining may take long (a run under ASan can leave thousands of
    # exec jobs behind one worker): what must not happen is a stall, so
    # the bound is on time without progress, not on the whole drain.
    last = {"left": None, "at": time.monotonic()}

    def drained():
        st = request(c, {"op": "status"})["status"]
        check_invariant(st)
        left = sum(p["jobs"]["queued"] + p["jobs"]["running"] +
                   p["jobs"]["delayed"] for p in st["pools"])
        if last["left"] is None or left < last["left"]:
            last["left"], last["at"] = left, time.monotonic()
        elif time.monotonic() - last["at"] > DRAIN_STALL_S:
            raise AssertionError("no job ended in %d s, %d left: %s" % (
                DRAIN_STALL_S, left, json.dumps(st["pools"])))
        return left == 0
    wait_for(drained, DRAIN_MAX_S, 0.2, "the queues to drain")
    c.close()
    sup.signal(signal.SIGTERM)
    rc = sup.wait(30)
    if rc != 0:
        run.fail("mpsup exited %r on SIGTERM" % rc)


def main():
    a = soaklib.args(__doc__, store=dict(default="normal", choices=(
        "memory", "normal", "full")))
    run = soaklib.Run("requests-" + a.store, a)
    sup = Supervisor(run.dir, conf(run))

    def body():
        wait_for(lambda: os.path.exists(os.path.join(run.dir, "mpsup.sock"))
                 and os.path.exists(os.path.join(run.dir, "authkey")), 20)
        ids = []
        threads = [run.thread(submitter, run, ids, n) for n in range(3)]
        threads += [run.thread(reader, run, ids),
                    run.thread(operator, run, sup), run.thread(hostile, run)]
        run.hold(threads, [sup])
        if run.errors:
            return
        drain_and_check(run, sup)
        if run.errors or a.store == "memory":
            return
        again = Supervisor(run.dir, conf(run))
        wait_for(lambda: os.path.exists(os.path.join(run.dir, "mpsup.sock")),
                 20)
        c = connect(run.dir)
        check_invariant(request(c, {"op": "status"})["status"])
        c.close()
        if again.stop() != 0:
            run.fail("mpsup restarted on the database did not stop with 0")
    return run.conclude([sup.stderr_path], body)

if __name__ == "__main__":
    sys.exit(main())
