"""Jobs end to end: queue, dispatch, results, retries, timeouts, cancel."""
import json
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (BUILDDIR, Supervisor, check_invariant,  # noqa: E402
                     config, connect, pid_alive, request, rss_kib,
                     run_tests, wait_for, worker_pids, write)

HEAD = config("supervisor", legacy_md5="yes")

# A stdlib-only stream worker: doubles numbers, crashes or sleeps on demand.
PY_WORKER = r'''
import json, os, sys, time
out = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
for line in sys.stdin:
    job = json.loads(line)
    d = job["data"]
    if d == "crash":
        os._exit(3)
    if isinstance(d, dict) and "sleep" in d:
        time.sleep(d["sleep"])
        d = d.get("then", 0)
    if isinstance(d, dict) and "nest" in d:
        d = 0
        for _ in range(job["data"]["nest"]):
            d = [d]
        out.write(json.dumps({"id": job["id"], "ok": True, "result": d}) + "\n")
        out.flush()
        continue
    if d == "fail":
        out.write(json.dumps({"id": job["id"], "ok": False, "error": "asked to fail"}) + "\n")
    elif d == "garbage":
        out.write("this is not json\n")
    else:
        print("working on", d)
        out.write(json.dumps({"id": job["id"], "ok": True, "result": d * 2}) + "\n")
    out.flush()
'''


def stream_pool(tmp, extra="", workers=2):
    write(os.path.join(tmp, "w.py"), PY_WORKER)
    return HEAD + config("pool_python", name="py", workers=workers,
                         extra=extra)


def test_exec_job_reports_exit_output_and_signal(tmp):
    sup = Supervisor(tmp, HEAD + "[pool:sh]\ntype = exec\nworkers = 2\noutput = both\n")
    c = connect(tmp)
    r = request(c, {"op": "submit", "pool": "sh", "args": ["sh", "-c", "echo out; echo err >&2; exit 7"],
                    "wait": True, "timeout": 10})
    assert r["ok"], r
    job = r["job"]
    assert job["state"] == "failed" and job["exit_code"] == 7 and job["signal"] is None
    assert job["stdout"] == "out\n" and job["stderr"] == "err\n", job
    assert job["id"] == r["id"] and job["attempts"] == 1 and job["pool"] == "sh"
    for k in ("submitted_at", "started_at", "finished_at", "duration_ms", "worker", "truncated", "error"):
        assert k in job, k
    r = request(c, {"op": "submit", "pool": "sh", "shell": "kill -9 $$", "wait": True})
    assert r["job"]["signal"] == 9 and r["job"]["exit_code"] is None and r["job"]["state"] == "failed"
    r = request(c, {"op": "submit", "pool": "sh", "args": ["true"], "wait": True})
    assert r["job"]["state"] == "done" and r["job"]["exit_code"] == 0 and r["job"]["error"] is None
    r = request(c, {"op": "submit", "pool": "sh", "args": ["/no/such/program"], "wait": True})
    assert r["job"]["exit_code"] == 127 and r["job"]["state"] == "failed", r
    r = request(c, {"op": "submit", "pool": "sh", "shell": "cat; echo $FOO; pwd", "stdin": "in\n",
                    "env": {"FOO": "bar"}, "cwd": "/tmp", "wait": True})
    assert r["job"]["stdout"] == "in\nbar\n/tmp\n", r
    # The job's output lines are in the log, tagged with its id.
    sup.wait_log("out job=%s: out" % request(c, {"op": "submit", "pool": "sh", "shell": "echo out", "wait": True})["id"])
    check_invariant(request(c, {"op": "status"})["status"])
    assert sup.stop() == 0


def test_stream_jobs_through_python_worker(tmp):
    sup = Supervisor(tmp, stream_pool(tmp))
    c = connect(tmp)
    r = request(c, {"op": "submit", "pool": "py", "data": 21, "wait": True})
    assert r["job"]["result"] == 42 and r["job"]["state"] == "done"
    r = request(c, {"op": "submit", "pool": "py", "data": "fail", "wait": True})
    assert r["job"]["state"] == "failed" and r["job"]["error"] == "asked to fail"
    r = request(c, {"op": "submit", "pool": "py", "data": {"nested": [1, "x"]}})
    assert r["ok"] and len(r["id"]) == 16
    r2 = request(c, {"op": "result", "id": r["id"], "wait": True, "timeout": 10})
    assert r2["job"]["state"] == "failed" or r2["job"]["state"] == "done"
    sup.wait_log(lambda l: "err job=" in l and "working on 21" in l)
    assert sup.stop() == 0


def test_10000_jobs_through_4_workers(tmp):
    sup = Supervisor(tmp, stream_pool(tmp, "prefetch = 4", workers=4))
    c = connect(tmp)
    ids = []
    for start in range(0, 10000, 1000):
        r = request(c, {"op": "submit_many", "pool": "py",
                        "jobs": [{"data": i} for i in range(start, start + 1000)]})
        assert r["ok"], r
        ids += r["ids"]
    assert len(set(ids)) == 10000 and ids == sorted(ids)
    # Pipelined result requests: replies come back in request order.
    for jid in ids:
        c.send_bytes(json.dumps({"op": "result", "id": jid, "wait": True, "timeout": 60}).encode())
    for i, jid in enumerate(ids):
        r = json.loads(c.recv_bytes())
        assert r["ok"] and r["job"]["id"] == jid, r
        assert r["job"]["state"] == "done" and r["job"]["result"] == i * 2, r
    st = request(c, {"op": "status"})["status"]
    check_invariant(st)
    p = st["pools"][0]
    assert p["jobs"]["done"] == 10000 and p["jobs"]["submitted"] == 10000
    # Constant-memory statistics: ordered percentiles and a finish rate.
    for h in ("latency_ms", "queue_wait_ms"):
        q = p[h]
        assert 0 <= q["p50"] <= q["p90"] <= q["p99"] <= q["max"], (h, q)
    assert p["queue_wait_ms"]["max"] > 0
    assert 10000 / 60.0 - 1 <= p["rate_per_s"] <= 10000 / 60.0 + 1, p["rate_per_s"]
    assert sorted(w["jobs_done"] > 0 for w in p["workers"]) == [True] * 4
    assert sup.stop() == 0


def test_crashed_worker_jobs_are_retried(tmp):
    sup = Supervisor(tmp, stream_pool(tmp, "max_attempts = 3\nretry_delay = 50ms\nrestart_delay = 50ms", workers=1))
    c = connect(tmp)
    # A job that crashes its worker every time ends failed after 3 attempts.
    r = request(c, {"op": "submit", "pool": "py", "data": "crash", "wait": True, "timeout": 20})
    assert r["job"]["state"] == "failed" and r["job"]["attempts"] == 3, r
    assert "exited with status 3" in r["job"]["error"] or "died" in r["job"]["error"], r
    # A job whose worker is killed under it is retried and completes.
    r = request(c, {"op": "submit", "pool": "py", "data": {"sleep": 3.0, "then": 5}})
    jid = r["id"]
    wait_for(lambda: request(c, {"op": "result", "id": jid})["job"]["state"] == "running")
    # The job may have been handed to a worker still starting (after the
    # crashes above): wait until its program runs, then kill it.
    for pid in wait_for(lambda: worker_pids(sup, "py"), what="a running worker"):
        os.kill(pid, signal.SIGKILL)
    r = request(c, {"op": "result", "id": jid, "wait": True, "timeout": 20})
    assert r["job"]["state"] == "done" and r["job"]["result"] == 10 and r["job"]["attempts"] == 2, r
    st = request(c, {"op": "status"})["status"]
    assert st["pools"][0]["jobs"]["retried"] >= 3
    check_invariant(st)
    assert sup.stop() == 0


def test_malformed_result_line_replaces_worker(tmp):
    sup = Supervisor(tmp, stream_pool(tmp, "max_attempts = 1", workers=1))
    c = connect(tmp)
    r = request(c, {"op": "submit", "pool": "py", "data": "garbage", "wait": True, "timeout": 10})
    assert r["job"]["state"] == "failed" and "malformed result line" in r["job"]["error"], r
    r = request(c, {"op": "submit", "pool": "py", "data": 4, "wait": True, "timeout": 10})
    assert r["job"]["result"] == 8
    assert sup.stop() == 0


def nested(n):
    """0 inside n arrays."""
    v = 0
    for _ in range(n):
        v = [v]
    return v


def test_too_deep_result_fails_its_job_and_the_worker_lives_on(tmp):
    # 60 levels is the limit on both sides of the worker pipe. The Python
    # worker sends deeper results anyway; the C library refuses to.
    echo = os.path.join(BUILDDIR, "examples", "echo_worker")
    sup = Supervisor(tmp, stream_pool(tmp, "max_attempts = 3\n[pool:c]\ntype = stream\n"
                                      "workers = 1\nmax_attempts = 3\ncommand = %s\n" % echo,
                                      workers=1))
    c = connect(tmp)
    assert request(c, {"op": "submit", "pool": "py", "data": 1, "wait": True})["job"]["result"] == 2
    pids = {pool: wait_for(lambda: worker_pids(sup, pool)) for pool in ("py", "c")}
    # 61 fits in the line the worker writes (64 levels), 100 does not.
    for pool, data in (("py", {"nest": 61}), ("py", {"nest": 100}), ("c", nested(61))):
        job = request(c, {"op": "submit", "pool": pool, "data": data, "wait": True, "timeout": 20})["job"]
        assert job["state"] == "failed" and job["attempts"] == 1, job
        assert job["error"] == "result nested deeper than 60 levels", job
        assert worker_pids(sup, pool) == pids[pool], (pool, pids)
    # Up to the limit results go through, and the same workers go on.
    job = request(c, {"op": "submit", "pool": "py", "data": {"nest": 60}, "wait": True})["job"]
    assert job["state"] == "done" and job["result"] == nested(60), job["state"]
    job = request(c, {"op": "submit", "pool": "c", "data": nested(60), "wait": True})["job"]
    assert job["state"] == "done" and job["result"] == nested(60), job["state"]
    assert request(c, {"op": "submit", "pool": "py", "data": 4, "wait": True})["job"]["result"] == 8
    assert {pool: worker_pids(sup, pool) for pool in ("py", "c")} == pids
    assert "malformed result line" not in sup.log()
    check_invariant(request(c, {"op": "status"})["status"])
    assert sup.stop() == 0


def test_exec_timeout_kills_the_whole_job_tree(tmp):
    sup = Supervisor(tmp, HEAD + "[pool:sh]\ntype = exec\nworkers = 1\njob_timeout = 500ms\n")
    c = connect(tmp)
    pidfile = os.path.join(tmp, "pids")
    r = request(c, {"op": "submit", "pool": "sh", "wait": True, "timeout": 20,
                    "shell": "sleep 100 & echo $! > %s; sh -c 'sleep 100' & echo $! >> %s; wait" % (pidfile, pidfile)})
    assert r["job"]["state"] == "timed_out", r
    pids = [int(x) for x in open(pidfile).read().split()]
    assert len(pids) == 2
    wait_for(lambda: not any(pid_alive(p) for p in pids), timeout=2, what="job tree gone")
    # The worker survives its job's timeout and runs the next one.
    r = request(c, {"op": "submit", "pool": "sh", "args": ["true"], "wait": True})
    assert r["job"]["state"] == "done"
    assert sup.stop() == 0


def test_stream_timeout_replaces_worker(tmp):
    # Generous: the timeout also covers a freshly started worker's start-up.
    sup = Supervisor(tmp, stream_pool(tmp, "job_timeout = 2s", workers=1))
    c = connect(tmp)
    r = request(c, {"op": "submit", "pool": "py", "data": {"sleep": 30}, "wait": True, "timeout": 20})
    assert r["job"]["state"] == "timed_out", r
    r = request(c, {"op": "submit", "pool": "py", "data": 1, "wait": True, "timeout": 20})
    assert r["job"]["result"] == 2
    assert sup.stop() == 0


def test_queue_full_is_refused(tmp):
    sup = Supervisor(tmp, stream_pool(tmp, "max_queue = 3", workers=1))
    c = connect(tmp)
    request(c, {"op": "pause", "pool": "py"})
    for i in range(3):
        assert request(c, {"op": "submit", "pool": "py", "data": i})["ok"]
    r = request(c, {"op": "submit", "pool": "py", "data": 9})
    assert r == {"ok": False, "error": "queue_full", "message": r["message"]}, r
    r = request(c, {"op": "submit_many", "pool": "py", "jobs": [{"data": 1}]})
    assert r["error"] == "queue_full"
    st = request(c, {"op": "status"})["status"]
    assert st["pools"][0]["jobs"]["rejected"] == 2 and st["pools"][0]["queue_depth"] == 3
    check_invariant(st)
    request(c, {"op": "resume", "pool": "py"})
    assert sup.stop() == 0


def test_cancel_queued_and_running_jobs(tmp):
    sup = Supervisor(tmp, HEAD + "[pool:sh]\ntype = exec\nworkers = 1\n")
    c = connect(tmp)
    pidfile = os.path.join(tmp, "pid")
    running = request(c, {"op": "submit", "pool": "sh", "shell": "echo $$ > %s; exec sleep 100" % pidfile})["id"]
    queued = request(c, {"op": "submit", "pool": "sh", "shell": "touch %s/ran" % tmp})["id"]
    wait_for(lambda: os.path.exists(pidfile) and open(pidfile).read().strip())
    pid = int(open(pidfile).read())
    r = request(c, {"op": "cancel", "id": queued})
    assert r["ok"] and r["state"] == "cancelled", r
    r = request(c, {"op": "cancel", "id": running})
    assert r["ok"], r
    r = request(c, {"op": "result", "id": running, "wait": True, "timeout": 10})
    assert r["job"]["state"] == "cancelled", r
    wait_for(lambda: not pid_alive(pid), timeout=2, what="cancelled job killed")
    assert not os.path.exists(os.path.join(tmp, "ran"))
    r = request(c, {"op": "cancel", "id": running})
    assert not r["ok"] and r["error"] == "bad_request"
    assert request(c, {"op": "result", "id": "0000000000000000"})["error"] == "not_found"
    check_invariant(request(c, {"op": "status"})["status"])
    assert sup.stop() == 0


def test_wrong_authkey_is_refused_and_next_client_served(tmp):
    from multiprocessing.connection import Client, AuthenticationError
    sup = Supervisor(tmp, stream_pool(tmp))
    connect(tmp).close()
    try:
        Client(os.path.join(tmp, "mpsup.sock"), authkey=b"wrong key of some length")
        raise AssertionError("wrong key accepted")
    except AuthenticationError:
        pass
    c = connect(tmp)
    assert request(c, {"op": "submit", "pool": "py", "data": 5, "wait": True})["job"]["result"] == 10
    sup.wait_log("authentication failed")
    assert sup.stop() == 0


def test_bad_requests_get_clear_errors(tmp):
    sup = Supervisor(tmp, stream_pool(tmp) + "[pool:sh]\ntype = exec\n")
    c = connect(tmp)
    c.send_bytes(b"{not json")
    assert json.loads(c.recv_bytes())["error"] == "bad_request"
    assert request(c, {"op": "launch"})["error"] == "unknown_op"
    assert request(c, {"op": "submit", "pool": "nope", "data": 1})["error"] == "unknown_pool"
    assert request(c, {"op": "submit", "pool": "py"})["error"] == "bad_request"
    assert request(c, {"op": "submit", "pool": "sh", "args": "ls"})["error"] == "bad_request"
    assert request(c, {"op": "submit", "pool": "sh", "args": ["a"], "shell": "b"})["error"] == "bad_request"
    r = request(c, {"op": "submit_many", "pool": "py", "jobs": [{"data": 1}, {"nodata": 2}]})
    assert r["error"] == "bad_request" and "jobs[1]" in r["message"]
    st = request(c, {"op": "status"})["status"]
    assert st["pools"][0]["jobs"]["submitted"] == 0   # all-or-nothing
    # The connection is still usable after every error.
    assert request(c, {"op": "submit", "pool": "py", "data": 2, "wait": True})["job"]["result"] == 4
    # "data" spelled with an escape, and twice: the last one is the data.
    c.send_bytes(b'{"op":"submit_many","pool":"py","wait":true,"jobs":'
                 b'[{"d\\u0061ta":5},{"data":1,"data":3}]}')
    r = json.loads(c.recv_bytes())
    assert [j["result"] for j in r["jobs"]] == [10, 6], r
    assert sup.stop() == 0


def test_max_jobs_per_worker_recycles_worker(tmp):
    sup = Supervisor(tmp, stream_pool(tmp, "max_jobs_per_worker = 3", workers=1))
    c = connect(tmp)
    pids = set()
    for i in range(7):
        r = request(c, {"op": "submit", "pool": "py", "data": i, "wait": True, "timeout": 10})
        assert r["job"]["result"] == i * 2, r
        pids.update(worker_pids(sup, "py"))
    sup.wait_log("recycling after 3 jobs", count=2)
    assert len(pids) >= 3, pids
    assert sup.stop() == 0


def test_sigterm_lets_running_jobs_finish(tmp):
    sup = Supervisor(tmp, HEAD + "shutdown_timeout = 10s\n[pool:sh]\ntype = exec\nworkers = 1\n")
    c = connect(tmp)
    jid = request(c, {"op": "submit", "pool": "sh", "shell": "sleep 0.7; echo finished"})["id"]
    wait_for(lambda: request(c, {"op": "result", "id": jid})["job"]["state"] == "running")
    sup.signal(signal.SIGTERM)
    r = request(c, {"op": "result", "id": jid, "wait": True, "timeout": 10})
    assert r["job"]["state"] == "done", r
    assert sup.wait() == 0
    assert "finished" in sup.log()


def test_stop_op_stops_supervisor(tmp):
    sup = Supervisor(tmp, stream_pool(tmp))
    c = connect(tmp)
    assert request(c, {"op": "stop"}) == {"ok": True}
    assert sup.wait() == 0
    assert not os.path.exists(os.path.join(tmp, "mpsup.sock"))


def test_a_stop_answers_the_waits_still_open_with_shutting_down(tmp):
    """A client waiting for a job when mpsup stops is told so, naming
    the job, rather than finding its connection closed: a result wait on
    a running job that outlives shutdown_timeout, a submit -w and a
    submit_many -w (pickled) still queued behind it. A wait whose job
    ends while mpsup stops gets the job."""
    write(os.path.join(tmp, "w.py"), PY_WORKER)
    sup = Supervisor(tmp, config("supervisor", legacy_md5="yes",
                                 extra="shutdown_timeout = 1s\n") +
                     config("pool_python", name="py", workers=1))
    c = connect(tmp)
    short = request(c, {"op": "submit", "pool": "py",
                        "data": {"sleep": 0.5, "then": 1}})["id"]
    long_ = request(c, {"op": "submit", "pool": "py",
                        "data": {"sleep": 60}})["id"]
    waits = {}
    for name, req in (("short", {"op": "result", "id": short, "wait": True}),
                      ("long", {"op": "result", "id": long_, "wait": True}),
                      ("submit", {"op": "submit", "pool": "py", "data": 1,
                                  "wait": True})):
        waits[name] = connect(tmp)
        waits[name].send_bytes(json.dumps(req).encode())
    waits["many"] = connect(tmp)
    waits["many"].send({"op": "submit_many", "pool": "py", "wait": True,
                        "jobs": [{"data": 2}, {"data": 3}]})
    wait_for(lambda: request(c, {"op": "result", "id": short})["job"]
             ["state"] == "running", what="the first job running")
    os.kill(sup.pid, signal.SIGTERM)
    replies = {n: json.loads(w.recv_bytes()) if n != "many" else w.recv()
               for n, w in waits.items()}
    assert replies["short"]["ok"] and \
        replies["short"]["job"]["result"] == 2, replies["short"]
    for n in ("long", "submit"):
        r = replies[n]
        assert r["ok"] is False and r["error"] == "shutting_down", r
        assert r["id"] in r["message"] and "stopping" in r["message"], r
    assert replies["long"]["id"] == long_
    r = replies["many"]
    assert r["ok"] is False and r["error"] == "shutting_down", r
    assert "2 of 2 jobs have not ended" in r["message"], r
    assert sup.wait(20) == 0
    for w in waits.values():
        w.close()


def test_authkey_file_created_private_and_insecure_refused(tmp):
    sup = Supervisor(tmp, stream_pool(tmp))
    connect(tmp).close()
    key = os.path.join(tmp, "authkey")
    assert os.stat(key).st_mode & 0o777 == 0o600
    assert len(open(key).read().strip()) == 64
    assert sup.stop() == 0
    os.chmod(key, 0o644)
    sup2 = Supervisor(tmp, stream_pool(tmp), log_name="second.log")
    assert sup2.wait(10) == 2
    assert "readable by group or others" in open(sup2.stderr_path).read()


def test_dynamic_pool_grows_with_backlog_and_retires_idle_workers(tmp):
    sup = Supervisor(tmp, HEAD + "[pool:dyn]\ntype = exec\nmin_workers = 1\nmax_workers = 3\n"
                     "idle_timeout = 500ms\n")
    c = connect(tmp)
    sup.wait_log("pool dyn: started 1 exec worker")
    wait_for(lambda: len(worker_pids(sup, "dyn")) == 1, what="1 worker")
    ids = [request(c, {"op": "submit", "pool": "dyn", "shell": "sleep 0.6"})["id"] for _ in range(3)]
    wait_for(lambda: len(worker_pids(sup, "dyn")) == 3, timeout=3, what="3 workers")
    for jid in ids:
        assert request(c, {"op": "result", "id": jid, "wait": True, "timeout": 10})["job"]["state"] == "done"
    sup.wait_log("retiring it (idle_timeout)", count=2, timeout=5)
    wait_for(lambda: len(worker_pids(sup, "dyn")) == 1, timeout=3, what="back to min_workers")
    check_invariant(request(c, {"op": "status"})["status"])
    assert sup.stop() == 0


def test_sighup_reload_adds_removes_and_rolls_pools(tmp):
    base = stream_pool(tmp, "env = VERSION=1", workers=2) + "[pool:old]\ntype = exec\nworkers = 1\n"
    sup = Supervisor(tmp, base)
    c = connect(tmp)
    # The listener is up before the pools start: wait for both workers.
    before = set(wait_for(lambda: (lambda p: p if len(p) == 2 else None)(
        worker_pids(sup, "py")), what="2 py workers"))
    # Queue work on the pool that will change, so the roll must keep it.
    request(c, {"op": "pause", "pool": "py"})
    ids = request(c, {"op": "submit_many", "pool": "py",
                      "jobs": [{"data": i} for i in range(50)]})["ids"]
    # A broken file is refused and changes nothing.
    write(sup.config, base + "[pool:broken]\ntype = stream\n")
    sup.signal(signal.SIGHUP)
    sup.wait_log("keeping the running configuration")
    assert set(worker_pids(sup, "py")) == before
    # A good one: py's env changes (workers replaced), old goes, new comes.
    write(sup.config, stream_pool(tmp, "env = VERSION=2", workers=3) + "[pool:new]\ntype = exec\nworkers = 1\n")
    sup.signal(signal.SIGHUP)
    sup.wait_log("1 pool added, 1 removed, 1 changed")
    request(c, {"op": "resume", "pool": "py"})
    for jid in ids:
        r = request(c, {"op": "result", "id": jid, "wait": True, "timeout": 20})
        assert r["job"]["state"] == "done", r
    wait_for(lambda: len(worker_pids(sup, "py")) == 3 and not (set(worker_pids(sup, "py")) & before),
             timeout=10, what="all py workers replaced")
    for pid in worker_pids(sup, "py"):
        assert b"VERSION=2" in open("/proc/%d/environ" % pid, "rb").read().split(b"\0")
    assert request(c, {"op": "submit", "pool": "new", "args": ["true"], "wait": True})["job"]["state"] == "done"
    assert request(c, {"op": "submit", "pool": "old", "args": ["true"]})["error"] == "unknown_pool"
    # old had nothing to finish: it stopped and left the status.
    wait_for(lambda: "old" not in [p["name"] for p in request(c, {"op": "status"})["status"]["pools"]],
             what="the removed pool to leave the status")
    st = request(c, {"op": "status"})["status"]
    assert [p["name"] for p in st["pools"]] == ["py", "new"], st["pools"]
    check_invariant(st)
    assert sup.stop() == 0


def test_kept_records_keep_their_kind_when_reload_changes_the_pool_type(tmp):
    # py starts as a stream pool, sh as an exec pool; a reload swaps them.
    base = stream_pool(tmp, workers=1) + "[pool:sh]\ntype = exec\nworkers = 1\n"
    sup = Supervisor(tmp, base)
    c = connect(tmp)
    stream_id = request(c, {"op": "submit", "pool": "py", "data": 21, "wait": True,
                            "timeout": 10})["id"]
    exec_id = request(c, {"op": "submit", "pool": "sh", "args": ["true"], "wait": True,
                          "timeout": 10})["id"]
    swapped = (HEAD + "[pool:py]\ntype = exec\nworkers = 1\n" +
               config("pool_python", name="sh", workers=1, extra=""))
    write(sup.config, swapped)
    sup.signal(signal.SIGHUP)
    sup.wait_log("0 pools added, 0 removed, 2 changed")
    # Each record is still the JSON of its own kind (before: the stream
    # result was spliced in as exec fields, and the reply was not JSON).
    job = request(c, {"op": "result", "id": stream_id})["job"]
    assert job["result"] == 42 and "exit_code" not in job, job
    job = request(c, {"op": "result", "id": exec_id})["job"]
    assert job["exit_code"] == 0 and "result" not in job, job
    assert sup.stop() == 0


def pool_names(c):
    return [p["name"] for p in request(c, {"op": "status"})["status"]["pools"]]


def test_removed_pool_is_freed_once_stopped_and_no_record_names_it(tmp):
    sup = Supervisor(tmp, HEAD + "result_max = 2\n[pool:a]\ntype = exec\n[pool:b]\ntype = exec\n",
                     extra_args=("--debug",))
    with_b = open(sup.config).read()
    c = connect(tmp)
    kept = request(c, {"op": "submit", "pool": "b", "args": ["true"], "wait": True})["id"]
    freed = "pool b: removed, stopped and no job left: freed"
    write(sup.config, with_b.replace("[pool:b]\ntype = exec\n", ""))
    sup.signal(signal.SIGHUP)
    # Stopped: out of the status at once, but its record still names it.
    wait_for(lambda: pool_names(c) == ["a"], what="b to leave the status")
    assert request(c, {"op": "result", "id": kept})["job"]["pool"] == "b"
    assert freed not in sup.log()
    # Two records of a push the last one of b out (result_max = 2).
    for _ in range(2):
        assert request(c, {"op": "submit", "pool": "a", "args": ["true"], "wait": True})["job"]["state"] == "done"
    sup.wait_log(freed)
    assert request(c, {"op": "result", "id": kept})["error"] == "not_found"
    # Added again after it was freed: a new pool b.
    write(sup.config, with_b)
    sup.signal(signal.SIGHUP)
    sup.wait_log("reload: adding pool b")
    assert "adding pool b back" not in sup.log()
    r = request(c, {"op": "submit", "pool": "b", "args": ["true"], "wait": True})
    assert r["job"]["state"] == "done", r
    st = request(c, {"op": "status"})["status"]
    assert [p["name"] for p in st["pools"]] == ["a", "b"], st["pools"]
    assert st["pools"][1]["jobs"]["submitted"] == 1, st["pools"][1]
    check_invariant(st)
    # Stopped with a record still naming it: freed at exit (the sanitizer
    # build fails the exit status on a leak).
    write(sup.config, with_b.replace("[pool:b]\ntype = exec\n", ""))
    sup.signal(signal.SIGHUP)
    wait_for(lambda: pool_names(c) == ["a"], what="b to leave the status again")
    assert request(c, {"op": "result", "id": r["id"]})["job"]["pool"] == "b"
    assert sup.stop() == 0


def test_finished_records_do_not_keep_big_inputs(tmp):
    """200 MB of job input goes through; kept records hold no copy."""
    sup = Supervisor(tmp, HEAD + """
[pool:x]
type = exec
workers = 2
""")
    c = connect(tmp)
    big = "z" * (512 * 1024)
    before = rss_kib(sup.pid)
    ids = []
    for batch in range(4 if harness.MEMORY_TOOL else 20):
        r = request(c, {"op": "submit_many", "pool": "x", "jobs": [
            {"args": ["true"], "stdin": big} for _ in range(20)]})
        assert r["ok"], r
        ids.extend(r["ids"])
        wait_for(lambda: request(c, {"op": "status"})["status"]["pools"][0][
            "jobs"]["done"] == len(ids), timeout=30, what="the batch done")
    grown = rss_kib(sup.pid) - before
    # One batch is 10 MB; all of them 200 MB. Freed inputs are reused.
    if not harness.MEMORY_TOOL:
        assert grown < 80 * 1024, "RSS grew by %d KiB" % grown
    r = request(c, {"op": "result", "id": ids[0]})
    assert r["ok"] and r["job"]["exit_code"] == 0, r
    c.close()
    assert sup.stop() == 0


def test_relative_sqlite_store_is_opened_beside_the_config(tmp):
    sup = Supervisor(tmp, HEAD + "store = sqlite:jobs.db\n[pool:sh]\ntype = exec\n")
    c = connect(tmp)
    r = request(c, {"op": "status"})
    assert r["ok"] and r["status"]["mpsup"]["store"] == "sqlite:%s/jobs.db" % tmp, r
    assert os.path.exists(os.path.join(tmp, "jobs.db"))
    c.close()
    assert sup.stop() == 0


if __name__ == "__main__":
    run_tests(globals(), timeout=120)
