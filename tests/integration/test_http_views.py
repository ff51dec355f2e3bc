"""What the dashboard reads over HTTP beyond SPEC section 9: each pool's
last hour (/status?history=1), what each worker costs (rss_bytes, cpu_s
from /proc), a job's record by id (/job) and the recent jobs, failures
first (/jobs); their bad parameters and the status token rules."""
import calendar
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (config, connect, request, run_tests, wait_for,  # noqa: E402
                     worker_pids, write)
from test_http import get, get_json, pool_of  # noqa: E402
from test_http import start as http_start  # noqa: E402

TOKEN = "0123456789abcdef0123456789abcdef"

# test_http's pools, their jobs' output kept in their records.
POOLS = config("pool_exec", name="sh", workers=2,
               extra="job_timeout = 300ms\noutput = both") + config(
    "pool_exec", name="slow", workers=1, extra="output = both")


def start(tmp, pools=POOLS, extra=""):
    return http_start(tmp, pools=pools, extra=extra)


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
    w = wait_for(spun, timeout=40, what="the job's CPU time in its worker's")
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


def test_job_record_by_id_with_its_output(tmp):
    sup, port = start(tmp)
    c = connect(tmp)
    rec = run(c, "sh", ["sh", "-c", "echo out; echo boom >&2; exit 3"], "failed")
    code, hdrs, body = get(port, "/job?id=" + rec["id"])
    assert code == 200 and hdrs["content-type"] == "application/json", (code, body)
    assert hdrs["cache-control"] == "no-store"
    job = json.loads(body)
    # The record the remote result op sends, output and all.
    assert job == request(c, {"op": "result", "id": rec["id"]})["job"], job
    assert (job["exit_code"], job["stdout"], job["stderr"]) == (3, "out\n", "boom\n"), job
    assert "output_cut" not in job
    # Output is cut for the page at output_max bytes a stream (1M by
    # default), between characters: never inside an escape (each newline
    # is one) or a UTF-8 sequence (a byte that is not UTF-8 was captured
    # as U+FFFD, three bytes).
    big = run(c, "sh", ["sh", "-c", "printf 'a\\351'; head -c 3000 /dev/zero | tr '\\0' '\\n';"
                        " printf '\\303\\251%.0s' $(seq 2000) >&2"], "done")
    assert big["stdout"] == "a\ufffd" + "\n" * 3000, big["stdout"][:20]
    assert big["stderr"] == "\u00e9" * 2000, big["stderr"][:20]
    assert json.loads(get(port, "/job?id=" + big["id"])[2]) == \
        request(c, {"op": "result", "id": big["id"]})["job"]
    for cap, out_bytes, err_chars in (("1001", 1001, 500), ("1K", 1024, 512),
                                      ("0", 0, 0), ("3", 1, 1)):
        job = get_json(port, "/job?id=%s&output_max=%s" % (big["id"], cap))
        assert job["output_cut"] is True and job["exit_code"] == 0, job
        assert len(job["stdout"].encode()) == out_bytes, (cap, job["stdout"][:10])
        assert big["stdout"].startswith(job["stdout"])
        assert job["stderr"] == "\u00e9" * err_chars, (cap, job["stderr"][:10])
    job = get_json(port, "/job?id=%s&output_max=64M" % big["id"])
    assert "output_cut" not in job and len(job["stderr"]) == 2000
    for path, code, says in (
            ("/job?id=%s&output_max=65M" % rec["id"], 400, b"output_max: at most 64M"),
            ("/job?id=%s&output_max=lots" % rec["id"], 400, b"output_max: "),
            ("/job?id=%s&output_max=-1" % rec["id"], 400, b"output_max: "),
            ("/job", 400, b"the job's id is needed"),
            ("/job?id=", 400, b"the job's id is needed"),
            ("/job?id=xyz", 400, b"not a job id"),
            ("/job?id=" + rec["id"].upper(), 400, b"not a job id"),
            ("/job?id=" + rec["id"] + "0", 400, b"not a job id"),
            ("/job?id=0000000000000000", 404, b"no job '0000000000000000'"),
            ("/job?id=%s&output=1" % rec["id"], 400, b"unknown parameter 'output'")):
        got, hdrs, body = get(port, path)
        assert (got, says in body) == (code, True), (path, got, body)
        assert hdrs["content-type"].startswith("text/plain"), hdrs
    c.close()
    assert sup.stop() == 0


def jobs(port, query=""):
    return get_json(port, "/jobs" + query)["jobs"]


def test_recent_jobs_newest_first_with_what_failed(tmp):
    sup, port = start(tmp)
    c = connect(tmp)
    ok = run(c, "sh", ["true"], "done")
    bad = run(c, "sh", ["sh", "-c", "printf '\\n  \\n\\tno such file: x.csv\\r\\nmore\\n' >&2;"
                        " exit 2"], "failed")
    late = run(c, "sh", ["sleep", "5"], "timed_out")
    binary = run(c, "slow", ["sh", "-c", "printf 'caf\\351 \\377\\n' >&2; exit 1"], "failed")
    loud = run(c, "slow", ["sh", "-c", "head -c 5000 /dev/zero | tr '\\0' x >&2; kill -9 $$"],
               "failed")
    listed = jobs(port)
    assert [j["id"] for j in listed] == [loud["id"], binary["id"], late["id"], bad["id"],
                                         ok["id"]], listed
    by = {j["id"]: j for j in listed}
    j = by[bad["id"]]
    assert (j["pool"], j["state"], j["exit_code"], j["signal"], j["attempts"]) == \
        ("sh", "failed", 2, None, 1), j
    # The first line that says something, without its line end.
    assert j["stderr_line"] == "\tno such file: x.csv", j
    assert j["duration_ms"] == bad["duration_ms"] or abs(j["duration_ms"] - bad["duration_ms"]) < 0.01
    assert j["finished_at"] == bad["finished_at"] and j["submitted_at"] == bad["submitted_at"]
    assert by[ok["id"]]["stderr_line"] is None and by[ok["id"]]["exit_code"] == 0
    j = by[late["id"]]
    assert j["state"] == "timed_out" and j["error"] == late["error"] and j["error"], j
    # Bytes that are not UTF-8 are shown replaced; a long line is cut.
    assert by[binary["id"]]["stderr_line"] == "caf\ufffd \ufffd", by[binary["id"]]
    j = by[loud["id"]]
    assert j["stderr_line"] == "x" * 200 and j["signal"] == 9 and j["exit_code"] is None, j
    # Filters.
    failed = jobs(port, "?state=failed,timed_out")
    assert [j["id"] for j in failed] == [loud["id"], binary["id"], late["id"], bad["id"]]
    assert [j["id"] for j in jobs(port, "?pool=sh&state=failed")] == [bad["id"]]
    assert [j["id"] for j in jobs(port, "?limit=2")] == [loud["id"], binary["id"]]
    assert len(jobs(port, "?since=1h&limit=1000")) == 5
    assert jobs(port, "?pool=slow&state=done") == []
    time.sleep(1.2)
    assert jobs(port, "?since=1s") == []
    c.close()
    assert sup.stop() == 0


def test_recent_jobs_refuse_bad_parameters(tmp):
    sup, port = start(tmp)
    for query, code, says in (
            ("?limit=0", 400, b"limit: "), ("?limit=1001", 400, b"limit: "),
            ("?limit=ten", 400, b"limit: "), ("?limit=", 400, b"limit: "),
            ("?state=broken", 400, b"state: unknown state"),
            ("?state=failed,", 400, b"state: unknown state"),
            ("?since=yesterday", 400, b"since: "), ("?since=-5s", 400, b"since: "),
            ("?pool=nope", 404, b"unknown pool"),
            ("?order=failed", 400, b"unknown parameter 'order'")):
        got, hdrs, body = get(port, "/jobs" + query)
        assert (got, says in body) == (code, True), (query, got, body)
    assert get(port, "/jobs?limit=1000")[0] == 200
    assert sup.stop() == 0


def test_job_views_follow_the_token_and_host_rules(tmp):
    sup, port = start(tmp)
    c = connect(tmp)
    jid = run(c, "sh", ["true"], "done")["id"]
    for path in ("/jobs", "/job?id=" + jid, "/status?history=1"):
        assert get(port, path, {"Host": "evil.example"})[0] == 421, path
        assert get(port, path, {"Host": "localhost:%d" % port})[0] == 200, path
    c.close()
    assert sup.stop() == 0
    path = write(os.path.join(tmp, "token"), TOKEN + "\n")
    os.chmod(path, 0o600)
    sup, port = start(tmp, extra="status_token_file = token")
    c = connect(tmp)
    jid = run(c, "sh", ["true"], "done")["id"]
    for path in ("/jobs", "/job?id=" + jid, "/status?history=1"):
        code, hdrs, body = get(port, path)
        assert code == 401 and jid.encode() not in body, (path, code)
        code, hdrs, body = get(port, path, {"Authorization": "Bearer " + TOKEN})
        assert code == 200, (path, code)
    c.close()
    assert sup.stop() == 0


if __name__ == "__main__":
    run_tests(globals())
