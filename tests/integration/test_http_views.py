"""What the dashboard reads over HTTP beyond SPEC section 9: each pool's
last hour (/status?history=1), what each worker costs (rss_bytes, cpu_s
from /proc), a job's record by id (/job) and the recent jobs, failures
first (/jobs); their bad parameters and the status token rules."""
import calendar
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (config, connect, request, run_tests, wait_for,  # noqa: E402
                     worker_pids, write)
from test_http import POOLS, get, get_json, pool_of, start  # noqa: E402

TOKEN = "0123456789abcdef0123456789abcdef"


def run(c, pool, args, state, **kw):
    """Submit and wait; the record, which must end in state."""
    r = request(c, dict({"op": "submit", "pool": pool, "args": args,
                         "wait": True, "timeout": 20}, **kw))
    assert r["ok"] and r["job"]["state"] == state, r
    return r["job"]


def iso_seconds(s):
    return calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S"))


def test_history_counts_the_last_hour_per_pool(tmp):
    sup, port = start(tmp)
    c = connect(tmp)
    before = time.time()
    for _ in range(3):
        run(c, "sh", ["true"], "done")
    run(c, "sh", ["false"], "failed")
    run(c, "sh", ["sleep", "5"], "timed_out")      # job_timeout = 300ms
    run(c, "slow", ["sh", "-c", "sleep 0.2"], "done")
    assert request(c, {"op": "pause", "pool": "slow"})["ok"]
    jid = request(c, {"op": "submit", "pool": "slow", "args": ["true"]})["id"]
    assert request(c, {"op": "cancel", "id": jid})["ok"]
    doc = get_json(port, "/status?history=1")
    after = time.time()
    for p in doc["pools"]:
        h = p["history"]
        assert h["bucket_s"] == 10, h
        for k in ("done", "failed", "cancelled", "run_mean_ms", "run_max_ms"):
            assert len(h[k]) == 360, (k, len(h[k]))
        # The last bucket is the one now filling: the hour ends now.
        since = iso_seconds(h["since"])
        assert before - 3600 - 10 <= since <= after - 3590, (since, before)
        assert since % 10 == 0
    sh, slow = pool_of(doc, "sh")["history"], pool_of(doc, "slow")["history"]
    assert (sum(sh["done"]), sum(sh["failed"]), sum(sh["cancelled"])) == (3, 2, 0), sh
    assert (sum(slow["done"]), sum(slow["failed"]), sum(slow["cancelled"])) == (1, 0, 1)
    # Run times: the timed-out job ran about 300 ms, the slow job 200 ms;
    # everything is in the last two buckets (the test takes seconds).
    assert 290 <= max(sh["run_max_ms"]) < 5000, sh["run_max_ms"][-2:]
    assert 190 <= max(slow["run_max_ms"]) < 5000, slow["run_max_ms"][-2:]
    spanned = int((after - before) // 10) + 2
    assert sum(slow["done"][:-spanned]) + sum(sh["done"][:-spanned]) == 0
    for h in (sh, slow):
        for mean, mx in zip(h["run_mean_ms"], h["run_max_ms"]):
            assert 0 <= mean <= mx + 1e-6, (mean, mx)
    # Only when asked, and for one pool with ?pool=.
    assert "history" not in pool_of(get_json(port), "sh")
    doc = get_json(port, "/status?pool=slow&history=1")
    assert [p["name"] for p in doc["pools"]] == ["slow"]
    assert sum(doc["pools"][0]["history"]["cancelled"]) == 1
    assert "history" not in pool_of(get_json(port, "/status?history=0"), "sh")
    c.close()
    assert sup.stop() == 0


def test_status_refuses_unknown_parameters_and_bad_history(tmp):
    sup, port = start(tmp)
    for path, says in (("/status?history=2", b"history: 1 or 0"),
                       ("/status?history=", b"history: 1 or 0"),
                       ("/status?history=yes", b"history: 1 or 0"),
                       ("/status?hist=1", b"unknown parameter 'hist'"),
                       ("/status?pool=sh&limit=5", b"unknown parameter 'limit'"),
                       ("/status?%01x=1", b"unknown parameter '?x'")):
        code, hdrs, body = get(port, path)
        assert code == 400 and says in body, (path, code, body)
        assert hdrs["content-type"].startswith("text/plain")
    assert get(port, "/status?pool=nope&history=1")[0] == 404
    assert sup.stop() == 0


BUSY = "import time\nt = time.process_time()\nwhile time.process_time() - t < 1.2: pass\n" \
    "print('spun', flush=True)\ntime.sleep(60)\n"


def proc_rss(pid):
    """Resident bytes of pid, from /proc/PID/statm."""
    with open("/proc/%d/statm" % pid) as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child_pids(pid):
    out = []
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
            out += [int(x) for x in f.read().split()]
    return out


def test_workers_report_memory_and_cpu_of_their_jobs(tmp):
    sup, port = start(tmp)
    c = connect(tmp)
    jid = request(c, {"op": "submit", "pool": "slow",
                      "args": [sys.executable, "-c", BUSY]})["id"]

    def spun():
        w = [w for w in pool_of(get_json(port), "slow")["workers"] if w["job"] == jid]
        return w[0] if w and w[0]["cpu_s"] >= 1.2 else None
    w = wait_for(spun, timeout=20, what="the job's CPU time in its worker's")
    assert w["pid"] in worker_pids(sup, "slow")
    # The exec worker and the job it runs; the job's memory counts.
    assert w["processes"] >= 2, w
    job_pid = child_pids(w["pid"])[0]
    assert w["rss_bytes"] >= proc_rss(job_pid) + proc_rss(w["pid"]) // 2, w
    assert w["cpu_s"] < 30, w
    # Idle workers cost little CPU, and every live one has figures.
    for p in get_json(port)["pools"]:
        for x in p["workers"]:
            assert isinstance(x["rss_bytes"], int) and x["rss_bytes"] > 0, x
            assert isinstance(x["cpu_s"], (int, float)) and x["processes"] >= 1, x
            if x["job"] is None:
                assert x["cpu_s"] < 1.0, x
    # The remote status op carries the same figures.
    doc = request(c, {"op": "status"})["status"]
    w = [w for w in pool_of(doc, "slow")["workers"] if w["job"] == jid][0]
    assert w["cpu_s"] >= 1.2 and w["processes"] >= 2, w
    request(c, {"op": "cancel", "id": jid})
    c.close()
    assert sup.stop() == 0


if __name__ == "__main__":
    run_tests(globals())
