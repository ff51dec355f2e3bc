"""Several supervisors, one queue in Redis (SPEC section 12): any node
takes submits and runs any job; a node killed, frozen past its lease or
restarted loses nothing; Redis restarted with AOF loses nothing that was
acknowledged, and submits meanwhile get "unavailable", not a hang;
result, waits and cancel work from every node; one key makes one job
across nodes; max_queue holds across the cluster; what a hostile writer
puts in Redis is skipped, not run; a stream without its consumer group is
said once and fixed by hand.

Every test starts its own redis-server (redisd.py) and its own nodes, each
in a folder of its own with the same authkey."""
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (MPSUP, Supervisor, connect, config, request,  # noqa: E402
                     run_tests, wait_for, write)
from redisd import Redisd, SlowReplies  # noqa: E402

# A stream worker that writes each id it finishes to done-NODE.txt (one
# line each, appended whole), and sleeps `data` seconds when data is a
# number above 0 (jobs that hold a worker for a while), or until the file
# PATH exists when data is "hold:PATH".
WORKER = r'''
import json, os, sys, time
log = open(os.environ["DONE_LOG"], "a", buffering=1)
for line in sys.stdin:
    job = json.loads(line)
    d = job["data"]
    if isinstance(d, (int, float)) and not isinstance(d, bool) and d > 0:
        time.sleep(d)
    if isinstance(d, str) and d.startswith("hold:"):
        while not os.path.exists(d[5:]):
            time.sleep(0.02)
    log.write(job["id"] + "\n")
    sys.stdout.write(json.dumps({"id": job["id"], "ok": True,
                                 "result": d}) + "\n")
    sys.stdout.flush()
'''

PORTS = iter(range(17400 + (os.getpid() % 200) * 5, 65000))


class Node:
    """One supervisor of the cluster, in tmp/NAME."""

    def __init__(self, tmp, name, redis, workers=2, prefetch=4,
                 max_attempts=5, lease="3s", extra_pool="", url=None,
                 extra_sup=""):
        self.name = name
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir, exist_ok=True)
        shutil.copy(os.path.join(tmp, "authkey"), self.dir)
        os.chmod(os.path.join(self.dir, "authkey"), 0o600)
        write(os.path.join(self.dir, "w.py"), WORKER)
        self.done_log = os.path.join(tmp, "done-%s.txt" % name)
        self.text = config(
            "supervisor", legacy_md5="yes", extra="cluster = %s\nnode = %s\n"
            "cluster_lease = %s\n%s" % (url or redis.url, name, lease,
                                      extra_sup)) + \
            "[pool:p]\ntype = stream\nworkers = %d\nprefetch = %d\n" \
            "max_attempts = %d\ncommand = %s w.py\nenv = DONE_LOG=%s\n%s" % (
                workers, prefetch, max_attempts, sys.executable,
                self.done_log, extra_pool)
        self.start()

    def start(self):
        self.sup = Supervisor(self.dir, self.text)
        self.sup.wait_log("cluster: connected to redis")
        self.conn = connect(self.dir)

    def ask(self, obj):
        return request(self.conn, obj)

    def kill9(self):
        os.kill(self.sup.pid, signal.SIGKILL)
        self.sup.wait()


def cluster_authkey(tmp):
    write(os.path.join(tmp, "authkey"), os.urandom(16).hex() + "\n")
    os.chmod(os.path.join(tmp, "authkey"), 0o600)


def done_ids(tmp):
    """Every id a worker finished, with how often, over all nodes."""
    seen = {}
    for f in os.listdir(tmp):
        if f.startswith("done-"):
            with open(os.path.join(tmp, f)) as fh:
                for line in fh:
                    if len(line.strip()) == 16:
                        seen[line.strip()] = seen.get(line.strip(), 0) + 1
    return seen


def submit_many(node, n, data=0, batch=1000):
    ids = []
    while len(ids) < n:
        k = min(batch, n - len(ids))
        rep = node.ask({"op": "submit_many", "pool": "p",
                        "jobs": [{"data": data}] * k})
        assert rep.get("ok"), rep
        ids += rep["ids"]
    return ids


def record(redis, i, pool="p"):
    """A job as Redis has it (see store/queue_redis_lua.c): (state,
    attempts, the consumer holding it), or None."""
    pre = "mpsup:{%s}:" % pool
    rec = redis.cmd("HGET", "%sr:%s" % (pre, i[:9]), i)
    if rec is not None:
        f = rec.split(b"\n")
        return f[0].decode(), int(f[1]), None
    if redis.cmd("HEXISTS", pre + "dj", i):
        return "delayed", 0, None
    for x in redis.cmd("SMEMBERS", pre + "e:" + i[:11]):
        e = redis.cmd("XRANGE", pre + "q", x, x)
        if not e:
            continue
        f = dict(zip(e[0][1][::2], e[0][1][1::2]))
        ids = f[b"i"].decode()
        if i not in [ids[k:k + 16] for k in range(0, len(ids), 16)]:
            continue
        p = redis.cmd("XPENDING", pre + "q", "mpsup", x, x, 1)
        if p:
            return "running", None, p[0][1].decode()
        return "queued", None, None
    return None


def states(redis, ids):
    """Each job's state as Redis has it."""
    out = {}
    for i in ids:
        r = record(redis, i)
        out[i] = r[0] if r is not None else None
    return out


def test_three_nodes_lose_nothing_when_one_dies_and_one_freezes(tmp):
    cluster_authkey(tmp)
    with Redisd(tmp) as redis:
        a, b, c = (Node(tmp, n, redis) for n in "abc")
        ids = submit_many(a, 6000)
        wait_for(lambda: len(done_ids(tmp)) > 1000, timeout=30,
                 what="a first share of the jobs done")
        b.kill9()
        os.kill(c.sup.pid, signal.SIGSTOP)
        ids += submit_many(a, 6000)
        b.start()              # same name: takes back what it held at once
        time.sleep(5)          # c's lease (3 s) runs out: taken over
        os.kill(c.sup.pid, signal.SIGCONT)
        ids += submit_many(a, 8000)
        assert len(set(ids)) == 20000
        try:
            wait_for(lambda: len(done_ids(tmp)) >= 20000, timeout=60,
                     what="every job run")
        except AssertionError:
            seen = done_ids(tmp)
            left = [i for i in ids if i not in seen]
            raise AssertionError("%d not run: %r\n%s" % (len(left), [
                record(redis, i) for i in left[:3]] + [redis.cmd("XPENDING", "mpsup:{p}:q",
                "mpsup", "-", "+", 50), redis.cmd("XINFO", "CONSUMERS",
                "mpsup:{p}:q", "mpsup"), redis.cmd("XLEN", "mpsup:{p}:q"),
                redis.cmd("HGETALL", "mpsup:nodes")], "\n".join(
                    n.name + ": " + line for n in (a, b, c)
                    for line in n.sup.lines() if "cluster" in line)))
        # Every job ends done exactly once, whatever ran it twice.
        wait_for(lambda: all(s == "done" for s in
                             states(redis, ids).values()), timeout=30,
                 what="every record done")
        seen = done_ids(tmp)
        assert set(seen) == set(ids)
        twice = [i for i, n in seen.items() if n > 1]
        # Only what b and c held can have run twice (prefetch 4 x 2
        # workers each, and the lines in their pipes).
        assert len(twice) <= 40, len(twice)
        for i in twice:
            assert record(redis, i)[1] >= 2, i
            rep = a.ask({"op": "result", "id": i})
            assert rep["job"]["attempts"] >= 2, rep
        # The records read the same from every node.
        for i in ids[::500]:
            for n in (a, b, c):
                rep = n.ask({"op": "result", "id": i})
                assert rep["ok"] and rep["job"]["state"] == "done", (n.name, rep)
        assert "was lost" in a.sup.log() + b.sup.log() + c.sup.log()
        for n in (a, b, c):
            assert n.sup.stop() == 0


def test_redis_restart_with_aof_loses_nothing_acknowledged(tmp):
    cluster_authkey(tmp)
    with Redisd(tmp, appendonly=True, appendfsync="always") as redis:
        a = Node(tmp, "a", redis)
        acked, unavailable, other = [], [], []
        stop = threading.Event()

        def submitter():
            conn = connect(a.dir)
            while not stop.is_set():
                rep = request(conn, {"op": "submit", "pool": "p",
                                     "data": 0})
                if rep.get("ok"):
                    acked.append(rep["id"])
                elif rep.get("error") == "unavailable":
                    unavailable.append(rep)
                    time.sleep(0.01)
                else:
                    other.append(rep)
        t = threading.Thread(target=submitter)
        t.start()
        try:
            wait_for(lambda: len(acked) > 200, what="submits acknowledged")
            redis.stop()
            wait_for(lambda: len(unavailable) > 0, timeout=10,
                     what="a submit answered unavailable")
            redis.restart()
            n = len(acked)
            wait_for(lambda: len(acked) > n + 200, timeout=30,
                     what="submits acknowledged again")
        finally:
            stop.set()
            t.join(30)
        assert not other, other[:3]
        assert "unavailable" in unavailable[0]["message"] or \
            "Redis" in unavailable[0]["message"], unavailable[0]
        try:
            wait_for(lambda: all(s == "done" for s in
                                 states(redis, acked).values()),
                     timeout=60, what="every acknowledged job done")
        except AssertionError:
            st = states(redis, acked)
            left = [i for i in acked if st[i] != "done"]
            raise AssertionError("%d of %d not done: %r\n%s" % (
                len(left), len(acked), [(i, record(redis, i))
                                        for i in left[:5]],
                "\n".join(a.sup.lines()[-30:])))
        log = a.sup.log()
        assert "cluster: lost" in log and log.count("connected to redis") >= 2
        assert a.sup.stop() == 0


def test_result_wait_and_cancel_from_any_node(tmp):
    cluster_authkey(tmp)
    with Redisd(tmp) as redis:
        a = Node(tmp, "a", redis, workers=1, prefetch=1)
        b = Node(tmp, "b", redis, workers=1, prefetch=1)
        # Two long jobs hold both workers; a third waits in the queue.
        long1 = a.ask({"op": "submit", "pool": "p", "data": 30})["id"]
        long2 = a.ask({"op": "submit", "pool": "p", "data": 30})["id"]
        wait_for(lambda: states(redis, [long1, long2]) ==
                 {long1: "running", long2: "running"}, what="both running")
        queued = a.ask({"op": "submit", "pool": "p", "data": 0})["id"]
        # Cancel the queued job from b: it never runs.
        rep = b.ask({"op": "cancel", "id": queued})
        assert rep == {"ok": True, "id": queued, "state": "cancelled"}, rep
        # Cancel each running job from the node that does not run it.
        for j in (long1, long2):
            runner = record(redis, j)[2]
            other = b if runner.startswith("a:") else a
            rep = other.ask({"op": "cancel", "id": j})
            assert rep["ok"] and rep["state"] == "running", rep
        for n in (a, b):
            for j in (long1, long2, queued):
                rep = n.ask({"op": "result", "id": j, "wait": True,
                             "timeout": 10})
                assert rep["ok"] and rep["job"]["state"] == "cancelled", \
                    (n.name, rep)
        assert queued not in done_ids(tmp)
        # A wait from b on a job submitted through a ends when it does.
        j = a.ask({"op": "submit", "pool": "p", "data": 0.5})["id"]
        rep = b.ask({"op": "result", "id": j, "wait": True, "timeout": 10})
        assert rep["ok"] and rep["job"]["state"] == "done", rep
        assert rep["job"]["result"] == 0.5
        # Unknown ids: not_found from every node.
        for n in (a, b):
            rep = n.ask({"op": "result", "id": "0" * 16})
            assert rep["error"] == "not_found", rep
        for n in (a, b):
            assert n.sup.stop() == 0


def test_a_job_waited_for_here_runs_here_when_its_node_is_lost(tmp):
    """b waits for a job that a runs, so b knows it as running there; a
    dies and b takes the job back: b runs it and answers the wait (it
    used to take the job as one it held already, and never ran it)."""
    cluster_authkey(tmp)
    with Redisd(tmp) as redis:
        a = Node(tmp, "a", redis, workers=1, prefetch=1)
        j = a.ask({"op": "submit", "pool": "p", "data": 30})["id"]
        wait_for(lambda: states(redis, [j]) == {j: "running"},
                 what="running on a")
        b = Node(tmp, "b", redis, workers=1, prefetch=1)
        rep = b.ask({"op": "result", "id": j})
        assert rep["ok"] and rep["job"]["state"] == "running", rep
        c = connect(b.dir)
        c.send({"op": "result", "id": j, "wait": True, "timeout": 60})
        time.sleep(0.5)
        a.kill9()
        wait_for(lambda: record(redis, j)[2] is not None and
                 record(redis, j)[2].startswith("b:"), 15,
                 what="b to run it")
        assert b.ask({"op": "cancel", "id": j})["state"] == "running"
        rep = c.recv()
        assert rep["ok"] and rep["job"]["state"] == "cancelled", rep
        assert rep["job"]["attempts"] == 2, rep
        assert b.sup.stop() == 0


def test_a_job_gone_from_redis_is_not_kept_queued_for_ever(tmp):
    """A node keeps the jobs it accepted as shadows until it hears they
    ended; when its channels come back it reads each again. A job of
    which Redis has no trace any more (it ended while the channel was
    away and its record went with result_max or result_ttl; here its
    entry is taken out by hand) is forgotten, not kept queued for ever:
    result answers not_found, the counters let it go, and the waits for
    it (a result and a submit_many, neither with a timeout) are answered
    not_found at once rather than never."""
    cluster_authkey(tmp)
    with Redisd(tmp) as redis:
        gw = Node(tmp, "gw", redis, workers=0)
        j = gw.ask({"op": "submit", "pool": "p", "data": "x"})["id"]
        assert states(redis, [j]) == {j: "queued"}
        waiter = connect(gw.dir)
        waiter.send_bytes(json.dumps({"op": "result", "id": j,
                                      "wait": True}).encode())
        batch = connect(gw.dir)
        batch.send_bytes(json.dumps({"op": "submit_many", "pool": "p",
                                     "wait": True, "jobs": [{"data": 1},
                                                            {"data": 2}]
                                     }).encode())
        pre = "mpsup:{p}:"
        wait_for(lambda: len(redis.cmd("XRANGE", pre + "q", "-", "+")) == 2,
                 what="the batch's entry in Redis")
        for x in redis.cmd("XRANGE", pre + "q", "-", "+"):
            redis.cmd("XDEL", pre + "q", x[0])
        for k in redis.cmd("KEYS", pre + "e:*"):
            redis.cmd("DEL", k)
        redis.cmd("SET", pre + "n", "0")
        assert gw.ask({"op": "result", "id": j})["job"]["state"] == "queued"
        assert not waiter.poll(0.5), "the wait was answered too soon"
        redis.cmd("CLIENT", "KILL", "TYPE", "pubsub")
        gw.sup.wait_log("job %s ended elsewhere and its record left Redis"
                        % j)
        assert waiter.poll(10), "the wait for a job gone was not answered"
        rep = json.loads(waiter.recv_bytes())
        assert rep["error"] == "not_found" and rep["id"] == j, rep
        assert batch.poll(10), "the batch's wait was not answered"
        rep = json.loads(batch.recv_bytes())
        assert rep["error"] == "not_found" and "record expired" in \
            rep["message"], rep
        rep = gw.ask({"op": "result", "id": j})
        assert rep["error"] == "not_found", rep
        st = gw.ask({"op": "status"})["status"]
        (pool,) = [p for p in st["pools"] if p["name"] == "p"]
        assert pool["jobs"]["submitted"] == 0 and \
            pool["jobs"]["queued"] == 0, pool
        # The connections that waited go on serving requests.
        assert request(waiter, {"op": "status"})["ok"]
        assert request(batch, {"op": "status"})["ok"]
        waiter.close()
        batch.close()
        assert gw.sup.stop() == 0


def test_a_wait_on_a_job_whose_submit_redis_never_answered_ends(tmp):
    """A job whose submit is on its way to Redis is listed by `jobs`
    (queued), so a client can wait for it by id. When the link to Redis
    is lost before Redis answers, the submit is refused (unavailable)
    and the node forgets the job: the wait (no timeout) is answered
    unavailable too, naming the job, not left open for ever with the job
    counted as queued."""
    cluster_authkey(tmp)
    with Redisd(tmp) as redis, SlowReplies(redis, 2.0) as slow:
        n = Node(tmp, "n", redis, workers=1, url=slow.url)
        sub = connect(n.dir)
        sub.send_bytes(json.dumps({"op": "submit", "pool": "p",
                                   "data": 1}).encode())
        listed = []
        wait_for(lambda: listed.extend(n.ask({"op": "jobs"})["jobs"]) or
                 listed, timeout=1.5, interval=0.02,
                 what="the job listed while its submit is on its way")
        (job,) = listed
        assert job["state"] == "queued", job
        waiter = connect(n.dir)
        waiter.send_bytes(json.dumps({"op": "result", "id": job["id"],
                                      "wait": True}).encode())
        assert not sub.poll(0.1), "Redis's answer came too soon"
        slow.close()
        assert sub.poll(10), "the submit was not answered"
        rep = json.loads(sub.recv_bytes())
        assert rep["error"] == "unavailable", rep
        # Redis may have taken it: the answer does not say otherwise.
        assert "may or may not" in rep["message"], rep
        assert "nothing was accepted" not in rep["message"], rep
        assert waiter.poll(10), "the wait for the refused job was not answered"
        rep = json.loads(waiter.recv_bytes())
        assert rep["error"] == "unavailable" and rep["id"] == job["id"], rep
        assert job["id"] in rep["message"], rep
        st = n.ask({"op": "status"})["status"]
        (pool,) = [p for p in st["pools"] if p["name"] == "p"]
        assert pool["jobs"]["submitted"] == 0 and \
            pool["jobs"]["queued"] == 0, pool
        sub.close()
        waiter.close()
        assert n.sup.stop() == 0


def test_a_stop_answers_what_redis_has_not_answered(tmp):
    """b asks Redis for a job that a runs (a wait for its result, a
    cancel) and submits jobs (one, and a batch waited for), and Redis's
    answers come late: told to stop, b waits a few seconds for them,
    then answers each shutting_down (naming the job; a cancel or a
    submit may or may not have taken effect), rather than close the
    connections without a word."""
    cluster_authkey(tmp)
    with Redisd(tmp) as redis, SlowReplies(redis, 0) as slow:
        a = Node(tmp, "a", redis, workers=1)
        b = Node(tmp, "b", redis, workers=0, url=slow.url)
        j = a.ask({"op": "submit", "pool": "p", "data": 5})["id"]
        wait_for(lambda: states(redis, [j]) == {j: "running"},
                 what="the job running on a")
        slow.delay = 8.0    # past the 3 s a stop waits for Redis
        res, can = connect(b.dir), connect(b.dir)
        res.send_bytes(json.dumps({"op": "result", "id": j,
                                   "wait": True}).encode())
        can.send_bytes(json.dumps({"op": "cancel", "id": j}).encode())
        sub, many = connect(b.dir), connect(b.dir)
        sub.send_bytes(json.dumps({"op": "submit", "pool": "p",
                                   "data": 0}).encode())
        many.send_bytes(json.dumps({"op": "submit_many", "pool": "p",
                                    "jobs": [{"data": 0}] * 3,
                                    "wait": True}).encode())
        assert not any(c.poll(0.3) for c in (res, can, sub, many)), \
            "answered too soon"
        b.sup.signal(signal.SIGTERM)
        assert res.poll(10), "the result was not answered"
        rep = json.loads(res.recv_bytes())
        assert rep["error"] == "shutting_down" and j in rep["message"], rep
        assert can.poll(5), "the cancel was not answered"
        rep = json.loads(can.recv_bytes())
        assert rep["error"] == "shutting_down" and j in rep["message"], rep
        assert "may or may not" in rep["message"], rep
        for c in (sub, many):
            assert c.poll(5), "a submit was not answered"
            rep = json.loads(c.recv_bytes())
            assert rep["error"] == "shutting_down", rep
            assert "may or may not have been taken" in rep["message"], rep
        assert b.sup.wait() == 0
        for c in (res, can, sub, many):
            c.close()
        assert a.sup.stop() == 0


def test_a_wait_hears_an_end_that_comes_before_its_answer(tmp):
    """b's answers from Redis come late (a proxy holds them 0.6 s) and
    its channel does not: the end of a job b waits for reaches b before
    the answer that made the job known there, and the wait still ends
    with the job; and b, told to stop, does not wait on Redis's answers
    to what it keeps sending meanwhile."""
    cluster_authkey(tmp)
    with Redisd(tmp) as redis, SlowReplies(redis, 0.6) as slow:
        a = Node(tmp, "a", redis, workers=1)
        b = Node(tmp, "b", redis, workers=0, url=slow.url)
        for _ in range(3):
            j = a.ask({"op": "submit", "pool": "p", "data": 0.25})["id"]
            wait_for(lambda: states(redis, [j]) == {j: "running"},
                     what="the job running on a")
            t0 = time.monotonic()
            rep = b.ask({"op": "result", "id": j, "wait": True,
                         "timeout": 8})
            assert rep["ok"] and rep["job"]["state"] == "done", rep
            assert rep["job"]["result"] == 0.25, rep
            assert time.monotonic() - t0 < 6, "the wait ran to its timeout"
        # Stopping waits for the answers to what was sent, not for
        # those of what the timers keep sending (that took 16 s here).
        t0 = time.monotonic()
        assert b.sup.stop() == 0
        assert time.monotonic() - t0 < 6, time.monotonic() - t0
        assert a.sup.stop() == 0


def next_bucket():
    """Sleep into the next 4096 ms of job ids (a bucket of records in
    Redis), 50 ms past its start, so that a batch's ids share one."""
    time.sleep(4.096 - time.time() * 1000 % 4096 / 1000 + 0.05)


def test_result_max_bounds_the_records_kept_in_redis(tmp):
    """Past result_max, a pool's least recently written buckets of
    records (4096 ms of ids each) leave Redis whole, never the two
    written last; the count that decides it matches what Redis holds."""
    cluster_authkey(tmp)
    with Redisd(tmp) as redis:
        a = Node(tmp, "a", redis, extra_sup="result_max = 150\n")
        pre = "mpsup:{p}:"
        batches = []
        for n in range(4):
            next_bucket()
            rep = a.ask({"op": "submit_many", "pool": "p", "wait": True,
                         "timeout": 30, "jobs": [{"data": "b%d" % n}] * 60})
            assert rep["ok"], rep
            assert all(j["state"] == "done" for j in rep["jobs"]), rep
            batches.append([j["id"] for j in rep["jobs"]])
            assert len({i[:9] for i in batches[-1]}) == 1
            # A wait is answered before the node's batch of ends reaches
            # Redis.
            wait_for(lambda: all(record(redis, i) == ("done", 1, None)
                                 for i in batches[-1]),
                     what="batch %d in redis" % n)
        # 240 records: the first two batches gone, the last two whole.
        assert all(record(redis, i) is None for i in batches[0] + batches[1])
        kept = {k.decode() for k in redis.cmd("KEYS", pre + "r:*")}
        held = sum(redis.cmd("HLEN", k) for k in kept)
        assert held == 120, (held, kept)
        assert int(redis.cmd("GET", pre + "rt")) == held
        rn = redis.cmd("HGETALL", pre + "rn")
        assert {pre + "r:" + k.decode(): int(v) for k, v in
                zip(rn[::2], rn[1::2])} == \
            {k: redis.cmd("HLEN", k) for k in kept}
        for k in ("rb", "rn", "rt"):
            assert 0 < redis.cmd("TTL", pre + k) <= 3600, k
        # The buckets written last stay even when they alone are past it.
        assert a.sup.stop() == 0
        b = Node(tmp, "b", redis, extra_sup="result_max = 10\n")
        next_bucket()
        rep = b.ask({"op": "submit_many", "pool": "p", "wait": True,
                     "timeout": 30, "jobs": [{"data": "b9"}] * 40})
        assert rep["ok"], rep
        ids = [j["id"] for j in rep["jobs"]]
        wait_for(lambda: all(record(redis, i) == ("done", 1, None)
                             for i in ids), what="the 40 in redis")
        assert all(record(redis, i) is None for i in batches[2])
        assert all(record(redis, i) is not None for i in batches[3]), (
            [i[:9] for i in (batches[2][0], batches[3][0], ids[0])],
            redis.cmd("ZRANGE", "mpsup:{p}:rb", 0, -1, "WITHSCORES"),
            redis.cmd("HGETALL", "mpsup:{p}:rn"))
        assert b.sup.stop() == 0


def test_jobs_whose_records_are_pruned_stay_ended_while_their_entry_lives(tmp):
    """A submit's jobs share an entry of the stream until all of them
    end. When the records of the ones that ended first leave Redis
    (result_max) while another still runs, they still count as ended: a
    result or a cancel finds no job (not "running"), and a node that
    takes the entry back after its node died runs only the unfinished
    one again."""
    cluster_authkey(tmp)
    with Redisd(tmp) as redis:
        a = Node(tmp, "a", redis, prefetch=1,
                 extra_sup="result_max = 20\n")
        next_bucket()
        rep = a.ask({"op": "submit_many", "pool": "p",
                     "jobs": [{"data": 20}, {"data": "s1"},
                              {"data": "s2"}]})
        assert rep["ok"], rep
        long_id, s1, s2 = rep["ids"]
        wait_for(lambda: states(redis, [long_id, s1, s2]) ==
                 {long_id: "running", s1: "done", s2: "done"},
                 what="the short jobs' records in redis")
        # Two buckets of 30 more: the short jobs' bucket is pruned.
        for n in range(2):
            next_bucket()
            rep = a.ask({"op": "submit_many", "pool": "p", "wait": True,
                         "timeout": 30, "jobs": [{"data": "x"}] * 30})
            assert rep["ok"], rep
        # Their records gone, they are still in the entry the long one
        # holds.
        wait_for(lambda: not redis.cmd("EXISTS", "mpsup:{p}:r:" + s1[:9]),
                 what="s1 pruned")
        assert states(redis, [long_id, s1, s2]) == \
            {long_id: "running", s1: "running", s2: "running"}
        for i in (s1, s2):
            assert a.ask({"op": "result", "id": i})["error"] == \
                "not_found"
            assert a.ask({"op": "cancel", "id": i})["error"] == \
                "not_found"
        assert redis.cmd("KEYS", "mpsup:{p}:t:*"), "the entry's ended set"
        a.kill9()
        b = Node(tmp, "b", redis)
        rep = b.ask({"op": "result", "id": long_id, "wait": True,
                     "timeout": 60})
        assert rep["ok"] and rep["job"]["state"] == "done", rep
        assert rep["job"]["attempts"] == 2, rep
        runs = done_ids(tmp)
        assert runs.get(s1) == 1 and runs.get(s2) == 1, runs
        assert redis.cmd("KEYS", "mpsup:{p}:t:*") == []
        assert b.sup.stop() == 0


def test_one_key_one_job_across_nodes(tmp):
    cluster_authkey(tmp)
    with Redisd(tmp) as redis:
        a = Node(tmp, "a", redis)
        b = Node(tmp, "b", redis)
        ca, cb = connect(a.dir), connect(b.dir)
        for k in range(40):
            got = {}
            gate = threading.Barrier(2)

            def go(name, conn):
                gate.wait()
                got[name] = request(conn, {"op": "submit", "pool": "p",
                                           "data": "k%d" % k,
                                           "key": "k%d" % k})
            ts = [threading.Thread(target=go, args=x)
                  for x in (("a", ca), ("b", cb))]
            for t in ts:
                t.start()
            for t in ts:
                t.join(10)
            assert got["a"]["ok"] and got["b"]["ok"], got
            assert got["a"]["id"] == got["b"]["id"], (k, got)
        try:
            wait_for(lambda: len(done_ids(tmp)) >= 40, what="the 40 jobs")
        except AssertionError:
            raise AssertionError([redis.cmd("KEYS", "mpsup:{p}:e:*")] +
                                 [redis.cmd("XINFO", "GROUPS", "mpsup:{p}:q")])
        time.sleep(0.5)
        assert len(done_ids(tmp)) == 40
        for n in (a, b):
            assert n.sup.stop() == 0


def test_max_queue_holds_across_the_cluster(tmp):
    cluster_authkey(tmp)
    with Redisd(tmp) as redis:
        a = Node(tmp, "a", redis, workers=1, prefetch=1,
                 extra_pool="max_queue = 10\n")
        b = Node(tmp, "b", redis, workers=1, prefetch=1,
                 extra_pool="max_queue = 10\n")
        held = [n.ask({"op": "submit", "pool": "p", "data": 20})["id"]
                for n in (a, b)]
        wait_for(lambda: set(states(redis, held).values()) == {"running"},
                 what="both workers busy")
        answers = [n.ask({"op": "submit", "pool": "p", "data": 0})
                   for _ in range(8) for n in (a, b)]
        ok = [r for r in answers if r.get("ok")]
        full = [r for r in answers if r.get("error") == "queue_full"]
        assert len(ok) == 10 and len(full) == 6, answers
        for n in (a, b):
            n.kill9()


def test_a_submit_many_near_max_queue_is_taken_whole_or_not_at_all(tmp):
    """b puts 3 jobs in Redis's queue, which a's own count does not see:
    a submit_many from a one job past what is left of max_queue then
    passes a's check and not Redis's, and Redis takes none of its jobs
    (before, it took them until the queue was full, and a said nothing
    was accepted), keyed or not, also when the request is larger than
    one script call's batch; a job whose key is known adds nothing, so
    a batch of one and as many new jobs as fit is taken."""
    cluster_authkey(tmp)
    with Redisd(tmp) as redis:
        a, b = (Node(tmp, name, redis, workers=1, prefetch=1,
                     extra_pool="max_queue = 2504\n") for name in "ab")
        held = [n.ask({"op": "submit", "pool": "p", "data": 20})["id"]
                for n in (a, b)]
        wait_for(lambda: set(states(redis, held).values()) == {"running"},
                 what="both workers busy")
        depth = lambda: int(redis.cmd("GET", "mpsup:{p}:n") or 0)  # noqa
        k0 = [b.ask({"op": "submit", "pool": "p", "data": 0, "key": k})
              for k in (None, None, "k0")]
        assert all(r["ok"] for r in k0) and depth() == 3, (k0, depth())
        room = 2504 - 3
        for jobs in ([{"data": 1}] * (room + 1),
                     [{"data": 1}] * (room - 1) + [{"data": 2, "key": "k1"},
                                                   {"data": 3}],
                     [{"data": 1, "key": "k1"}] + [{"data": 2}] * room):
            rep = a.ask({"op": "submit_many", "pool": "p", "jobs": jobs})
            assert rep["error"] == "queue_full", rep
            assert "nothing was accepted" in rep["message"], rep
            assert depth() == 3, (len(jobs), depth())
        assert redis.cmd("EXISTS", "mpsup:{p}:k:7:defaultk1") == 0
        rep = a.ask({"op": "submit_many", "pool": "p",
                     "jobs": [{"data": 1, "key": "k0"}] + [{"data": 2}] * room})
        assert rep.get("ok") and rep["ids"][0] == k0[2]["id"], str(rep)[:300]
        assert depth() == 2504
        for n in (a, b):
            n.kill9()


def test_racing_submits_at_max_queue_run_only_what_was_acknowledged(tmp):
    """Four clients send batches to two nodes as fast as they are
    answered, with max_queue far below what they send: many are refused
    queue_full, and a node's own count never sees the other's jobs. No
    job that ran may be one that no client was told was accepted (a
    batch refused in part, said "nothing was accepted")."""
    cluster_authkey(tmp)
    with Redisd(tmp) as redis:
        nodes = [Node(tmp, name, redis, workers=2, prefetch=1,
                      extra_pool="max_queue = 40\n") for name in "ab"]
        acked, answers, lock = set(), [], threading.Lock()
        stop = time.monotonic() + 6

        def client(n):
            c = connect(nodes[n % 2].dir)
            i = 0
            while time.monotonic() < stop:
                i += 1
                jobs = [{"data": 0.005} for _ in range(1 + (i * 7 + n) % 15)]
                if i % 5 == 0:
                    jobs[0]["key"] = "c%d-%d" % (n, i)
                r = request(c, {"op": "submit_many", "pool": "p",
                                "jobs": jobs})
                with lock:
                    answers.append(r.get("error", "ok"))
                    if r.get("ok"):
                        acked.update(r["ids"])
            c.close()

        threads = [threading.Thread(target=client, args=(n,))
                   for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        counts = {a: answers.count(a) for a in set(answers)}
        assert set(counts) == {"ok", "queue_full"}, counts
        assert counts["queue_full"] >= 10 and counts["ok"] >= 10, counts
        wait_for(lambda: set(states(redis, sorted(acked)).values()) ==
                 {"done"}, timeout=60, what="every acknowledged job done")
        ran = set(done_ids(tmp))
        assert ran - acked == set(), (len(ran - acked), counts)
        assert int(redis.cmd("GET", "mpsup:{p}:n") or 0) == 0
        for n in nodes:
            assert n.sup.stop() == 0


def test_submits_answer_unavailable_while_redis_cannot_be_reached(tmp):
    cluster_authkey(tmp)
    port = next(PORTS)
    text = config("supervisor", legacy_md5="yes", extra="cluster = redis://127.0.0.1:%d\n"
                  "node = lonely\n" % port) + \
        "[pool:p]\ntype = stream\nworkers = 1\ncommand = /bin/cat\n"
    sup = Supervisor(tmp, text)
    sup.wait_log("cluster: cannot reach redis://127.0.0.1:%d" % port)
    conn = connect(tmp)
    t0 = time.monotonic()
    rep = request(conn, {"op": "submit", "pool": "p", "data": 1})
    assert time.monotonic() - t0 < 5
    assert rep["ok"] is False and rep["error"] == "unavailable", rep
    rep = request(conn, {"op": "result", "id": "0" * 16})
    assert rep["error"] == "unavailable", rep
    # One line for the failure, not one per attempt.
    time.sleep(1.5)
    assert sup.log().count("cannot reach") == 1, sup.log()
    assert sup.stop() == 0


def test_a_frozen_redis_is_dropped_and_submits_do_not_hang(tmp):
    cluster_authkey(tmp)
    with Redisd(tmp) as redis:
        a = Node(tmp, "a", redis)
        rep = a.ask({"op": "submit", "pool": "p", "data": 1, "wait": True,
                     "timeout": 10})
        assert rep["ok"] and rep["job"]["state"] == "done", rep
        os.kill(redis.pid, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            rep = a.ask({"op": "submit", "pool": "p", "data": 2})
            waited = time.monotonic() - t0
            # Unanswered for 5 s, the link is dropped: an answer, not a
            # hang, and nothing promised.
            assert rep["ok"] is False and rep["error"] == "unavailable", rep
            # 5 s, and a loaded machine (the log says what took longer).
            assert waited < 15, (waited, a.sup.log()[-4000:])
            a.sup.wait_log("cluster: lost redis")
        finally:
            os.kill(redis.pid, signal.SIGCONT)
        a.sup.wait_log("cluster: connected to redis", count=2, timeout=15)
        wait_for(lambda: a.ask({"op": "submit", "pool": "p", "data": 3,
                                "wait": True, "timeout": 10}).get("ok"),
                 timeout=15, what="submits accepted again")
        assert a.sup.stop() == 0


def test_a_node_without_workers_is_a_gateway(tmp):
    cluster_authkey(tmp)
    with Redisd(tmp) as redis:
        gw = Node(tmp, "gw", redis, workers=0)
        rep = gw.ask({"op": "submit", "pool": "p", "data": "early"})
        assert rep["ok"], rep
        early = rep["id"]
        time.sleep(0.5)
        # Nobody runs it yet: it waits in the cluster's queue.
        assert states(redis, [early]) == {early: "queued"}
        w = Node(tmp, "w", redis, workers=2)
        rep = gw.ask({"op": "result", "id": early, "wait": True,
                      "timeout": 10})
        assert rep["ok"] and rep["job"]["state"] == "done", rep
        ids = submit_many(gw, 500, data="x")
        wait_for(lambda: all(s == "done" for s in
                             states(redis, ids).values()), timeout=30,
                 what="the gateway's jobs done by the worker node")
        # Every job ran on w; none on the gateway.
        assert not os.path.exists(gw.done_log)
        assert len(done_ids(tmp)) == 501
        st = gw.ask({"op": "status"})["status"]
        nodes = {n["node"]: n for n in st["cluster"]["nodes"]}
        assert nodes["gw"]["capacity"] == {"p": 0}, nodes
        assert gw.sup.stop() == 0 and w.sup.stop() == 0
    # On one machine, a pool without workers is an error at its line.
    path = write(os.path.join(tmp, "one.ini"), config(
        "supervisor") + "[pool:p]\ntype = stream\nworkers = 0\n"
        "command = /bin/cat\n")
    p = subprocess.run([MPSUP, "check", "-c", path], capture_output=True,
                       text=True)
    assert p.returncode != 0
    line = open(path).read().splitlines().index("workers = 0") + 1
    assert "one.ini:%d: workers = 0: only a cluster node" % line in \
        p.stderr + p.stdout, (p.stdout, p.stderr)


def test_a_pool_removed_by_reload_gives_back_what_it_held(tmp):
    cluster_authkey(tmp)
    with Redisd(tmp) as redis:
        other = "[pool:q]\ntype = stream\nworkers = 1\ncommand = %s w.py\n" \
            "env = DONE_LOG=%s\n" % (sys.executable,
                                     os.path.join(tmp, "done-q.txt"))
        a = Node(tmp, "a", redis, workers=1, prefetch=1, extra_pool=other)
        # One entry: a takes it whole, runs the first job (until the
        # test lets it end) and holds the other 50 queued.
        release = os.path.join(tmp, "release")
        ids = a.ask({"op": "submit_many", "pool": "p",
                     "jobs": [{"data": "hold:" + release}] +
                     [{"data": 0}] * 50})["ids"]
        wait_for(lambda: states(redis, ids[:1]) == {ids[0]: "running"},
                 what="the first job running on a")
        time.sleep(0.5)
        assert len(done_ids(tmp)) == 0
        # Pool p leaves a: what it held and never started goes back.
        a.text = a.text.split("[pool:p]")[0] + other
        write(a.sup.config, a.text)
        p = subprocess.run([MPSUP, "ctl", "-c", a.sup.config, "reload"],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, (p.stdout, p.stderr)
        a.sup.wait_log("cluster: pool p removed here: 50 jobs it held "
                       "went back to the cluster")
        write(release, "")
        b = Node(tmp, "b", redis, workers=2)
        wait_for(lambda: set(states(redis, ids).values()) == {"done"},
                 timeout=30, what="every job done")
        with open(b.done_log) as f:
            assert set(ids[1:]) <= set(f.read().split())
        assert len(done_ids(tmp)) == 51
        # a is well and still serves its other pool.
        rep = a.ask({"op": "submit", "pool": "q", "data": 1, "wait": True,
                     "timeout": 10})
        assert rep["ok"] and rep["job"]["state"] == "done", rep
        assert a.sup.stop() == 0 and b.sup.stop() == 0


def blob(attempts="0", sub="1796594273.5", prio="0", nb="0",
         client="default", data='"x"', lens=None):
    """A queued job's blob as a node writes it (qr_blob); lens overrides
    the client, key and group lengths."""
    cl, kl, gl = lens or (len(client), 0, 0)
    b = "%s\n%s\n%s\n%s\n%d\n%d\n%d\n%s%s" % (
        attempts, sub, prio, nb, cl, kl, gl, client, data)
    return "%d\n%s" % (len(b), b)


def test_hostile_blobs_and_records_in_redis_are_skipped(tmp):
    """Anyone who can write to Redis writes what a node reads
    (docs/SECURITY.md): an entry whose numbers are out of range, or whose
    lengths run past its end, is skipped and logged, not run, and the
    node goes on; so is an ended job's record with a time no calendar
    has."""
    cluster_authkey(tmp)
    with Redisd(tmp) as redis:
        w = Node(tmp, "w", redis, workers=1)
        # The first submit makes the stream and its consumer group.
        rep = w.ask({"op": "submit", "pool": "p", "data": "first",
                     "wait": True, "timeout": 10})
        assert rep["ok"] and rep["job"]["state"] == "done", rep
        good = [rep["job"]["id"]]
        q = "mpsup:{p}:q"
        bad = [blob(prio="100"), blob(prio="-11"), blob(sub="nan"),
               blob(attempts="1e30"), blob(nb="-5"),
               blob(lens=(7, 0, 5000)), blob(data='1,"x":2'),
               blob(data="[" * 64 + "]" * 64)]
        # Well-formed jobs under ids no node makes (16 lowercase hex
        # digits): ids go into the node's id table, into the records and
        # lines it writes, and back to Redis.
        bad_ids = ["01000000000000G0", "0100000000000A00",
                   "010000000\n000000", "0100000000000 00"]
        for n, (i, b) in enumerate(
                [("%016x" % (0x0100000000000000 + n), b)
                 for n, b in enumerate(bad)] +
                [(i, blob()) for i in bad_ids]):
            redis.cmd("XADD", q, "*", "o", "evil", "i", i, "b", b,
                      "k", i[:11])
            redis.cmd("INCR", "mpsup:{p}:n")
        # Data as deep as a submit takes it is not one of them.
        deep = json.loads("[" * 63 + "]" * 63)
        rep = w.ask({"op": "submit", "pool": "p", "data": deep,
                     "wait": True, "timeout": 10})
        assert rep["ok"] and rep["job"]["state"] == "failed", rep
        assert rep["job"]["error"].startswith("result nested deeper"), rep
        good.append(rep["job"]["id"])
        w.sup.wait_log("a malformed job in Redis skipped",
                       count=len(bad) + len(bad_ids))
        # Only the two good jobs reached the worker.
        assert open(w.done_log).read().split() == good
        st = w.ask({"op": "status"})["status"]
        (pool,) = [p for p in st["pools"] if p["name"] == "p"]
        assert pool["queue_by_priority"] == {}, pool
        # An ended job's record, fetched for a result: its started time
        # is not a number, its result not JSON, its worker out of range.
        i = "0100000000000100"
        for n, rec in enumerate([
                "done\n1\n0\nnan\n1796594273.2\n0\n1796594273.0\n"
                "7\n2\n0\ndefault42",
                "done\n1\n0\n1796594273.1\n1796594273.2\n0\n"
                "1796594273.0\n7\n2\n0\ndefault4}",
                "done\n1\n70000\n1796594273.1\n1796594273.2\n0\n"
                "1796594273.0\n7\n2\n0\ndefault42"]):
            redis.cmd("HSET", "mpsup:{p}:r:" + i[:9], i, rec)
            rep = w.ask({"op": "result", "id": i})
            assert not rep["ok"] and rep["error"] == "not_found", rep
            w.sup.wait_log("job %s: a malformed record in Redis skipped"
                           % i, count=n + 1)
        # The same record, well formed, is found; not under an id no
        # node makes.
        for i in ("0100000000000100", "010000000000010F"):
            redis.cmd("HSET", "mpsup:{p}:r:" + i[:9], i,
                      "done\n1\n0\n1796594273.1\n1796594273.2\n0\n"
                      "1796594273.0\n7\n2\n0\ndefault42")
        rep = w.ask({"op": "result", "id": "0100000000000100"})
        assert rep["ok"] and rep["job"]["result"] == 42, rep
        rep = w.ask({"op": "result", "id": "010000000000010F"})
        assert rep["error"] == "not_found", rep
        assert w.sup.stop() == 0


def test_a_stream_without_its_group_is_said_once_and_fixed_by_hand(tmp):
    """A pool's stream made outside mpsup, without the consumer group:
    claims fail with NOGROUP. The node says so once, with what it means,
    not at every claim (every heartbeat and every submit), and takes the
    jobs once the operator makes the group (README, Cluster)."""
    cluster_authkey(tmp)
    with Redisd(tmp) as redis:
        q = "mpsup:{p}:q"
        i = "0100000000000200"
        redis.cmd("XADD", q, "*", "o", "elsewhere", "i", i,
                  "b", blob(data='"before"'), "k", i[:11])
        redis.cmd("INCR", "mpsup:{p}:n")
        w = Node(tmp, "w", redis, workers=1)
        ids = [w.ask({"op": "submit", "pool": "p", "data": k})["id"]
               for k in range(5)]
        w.sup.wait_log("claims fail: NOGROUP")
        # Heartbeats claim every second: three seconds, one line.
        time.sleep(3)
        lines = [ln for ln in w.sup.lines() if "claim" in ln]
        assert len(lines) == 1, lines
        assert "without mpsup's consumer group" in lines[0], lines
        # Nothing ran meanwhile.
        assert open(w.done_log).read() == ""
        redis.cmd("XGROUP", "CREATE", q, "mpsup", "0")
        w.sup.wait_log("pool p: claims succeed again")
        for k in ids + [i]:
            rep = w.ask({"op": "result", "id": k, "wait": True,
                         "timeout": 10})
            assert rep["ok"] and rep["job"]["state"] == "done", rep
        assert sorted(open(w.done_log).read().split()) == sorted(ids + [i])
        assert w.sup.stop() == 0


def test_auth_with_the_password_file_and_a_wrong_one(tmp):
    cluster_authkey(tmp)
    secret = "redis-secret-" + os.urandom(8).hex()
    with Redisd(tmp, password=secret) as redis:
        for name, pw in (("good", secret), ("bad", secret + "x")):
            d = os.path.join(tmp, name)
            os.makedirs(d)
            pwfile = os.path.join(d, "redis.pw")
            fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT, 0o600)
            os.write(fd, (pw + "\n").encode())
            os.close(fd)
            shutil.copy(os.path.join(tmp, "authkey"), d)
            os.chmod(os.path.join(d, "authkey"), 0o600)
            text = config("supervisor", legacy_md5="yes",
                          extra="cluster = %s\nnode = %s\n"
                          "cluster_password_file = redis.pw\n" % (
                              redis.url, name)) + \
                "[pool:p]\ntype = stream\nworkers = 1\ncommand = %s\n" % (
                    config("pool_echo", name="x", workers=1, work_us=0)
                    .split("command = ")[1].split("\n")[0])
            sup = Supervisor(d, text)
            conn = connect(d)
            if name == "good":
                sup.wait_log("cluster: connected to redis")
                rep = request(conn, {"op": "submit", "pool": "p",
                                     "data": 7, "wait": True,
                                     "timeout": 10})
                assert rep["ok"] and rep["job"]["result"] == 7, rep
            else:
                sup.wait_log("cluster: cannot reach redis")
                assert "WRONGPASS" in sup.log() or "invalid" in sup.log(), \
                    sup.log()
                rep = request(conn, {"op": "submit", "pool": "p",
                                     "data": 7})
                assert rep["error"] == "unavailable", rep
            assert secret not in sup.log()
            assert sup.stop() == 0


if __name__ == "__main__":
    run_tests(globals(), timeout=240)
