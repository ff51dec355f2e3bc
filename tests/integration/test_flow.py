"""Flow control end to end: priorities, delayed jobs, fair groups, group
concurrency, rate limits, and what bad input to each gets."""
import datetime
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (MPSUP, Supervisor, check_invariant, config,  # noqa: E402
                     connect, request, run_tests, wait_for, write)

HEAD = config("supervisor", legacy_md5="yes")

# A stdlib-only stream worker: answers each job with its data, after
# {"sleep": S} if asked, and appends the data it ran to order.txt.
PY_WORKER = r'''
import json, os, sys, time
out = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
log = open("order.txt", "a")
for line in sys.stdin:
    job = json.loads(line)
    d = job["data"]
    if isinstance(d, dict) and "sleep" in d:
        time.sleep(d["sleep"])
    log.write(json.dumps(d) + "\n")
    log.flush()
    out.write(json.dumps({"id": job["id"], "ok": True, "result": d}) + "\n")
    out.flush()
'''


def py_pool(tmp, extra="", workers=1):
    write(os.path.join(tmp, "w.py"), PY_WORKER)
    return config("pool_python", name="py", workers=workers,
                  extra="prefetch = 1\n" + extra)


def start(tmp, text):
    sup = Supervisor(tmp, HEAD + text)
    c = connect(tmp)
    return sup, c


def order(tmp):
    with open(os.path.join(tmp, "order.txt")) as f:
        return [json.loads(line) for line in f]


def ts(s):
    """Seconds since the epoch of an RFC 3339 UTC timestamp from a record."""
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")


def pool_status(c, name="py"):
    st = request(c, {"op": "status"})["status"]
    check_invariant(st)
    return [p for p in st["pools"] if p["name"] == name][0]


def test_priority_jumps_a_backlog(tmp):
    sup, c = start(tmp, py_pool(tmp, "priority_aging = 0\n"))
    r = request(c, {"op": "submit_many", "pool": "py", "jobs":
                    [{"data": {"sleep": 0.05, "n": i}} for i in range(30)]})
    assert r["ok"], r
    wait_for(lambda: os.path.exists(os.path.join(tmp, "order.txt")) or
             pool_status(c)["jobs"]["running"] == 1, what="backlog running")
    st = pool_status(c)
    assert st["queue_by_priority"] == {"0": st["jobs"]["queued"]}, st
    r = request(c, {"op": "submit", "pool": "py", "data": "urgent",
                    "priority": 7, "wait": True, "timeout": 20})
    assert r["ok"] and r["job"]["state"] == "done", r
    assert r["job"]["priority"] == 7, r["job"]
    ran = order(tmp)
    # It ran right after what was running (or already sent) when it came.
    assert ran.index("urgent") <= 3, ran
    assert pool_status(c)["jobs"]["queued"] >= 20
    assert sup.stop() == 0


def test_delayed_job_runs_within_50ms_of_its_time(tmp):
    sup, c = start(tmp, py_pool(tmp, workers=2))
    t0 = time.time()
    a = request(c, {"op": "submit", "pool": "py", "data": "a", "delay": "1s"})
    b = request(c, {"op": "submit", "pool": "py", "data": "b",
                    "not_before": rfc3339(t0 + 1.5)})
    assert a["ok"] and b["ok"], (a, b)
    st = pool_status(c)
    assert st["jobs"]["delayed"] == 2 and st["jobs"]["queued"] == 0, st
    rec = request(c, {"op": "result", "id": a["id"]})["job"]
    assert rec["state"] == "delayed", rec
    for jid, due in ((a["id"], t0 + 1.0), (b["id"], t0 + 1.5)):
        r = request(c, {"op": "result", "id": jid, "wait": True,
                        "timeout": 10})
        job = r["job"]
        assert job["state"] == "done", job
        nb = ts(job["not_before"])
        started = ts(job["started_at"])
        assert abs(nb - due) < 0.05, (nb, due)
        assert -0.002 <= started - nb <= 0.05, (started - nb, job)
    assert pool_status(c)["jobs"]["delayed"] == 0
    assert sup.stop() == 0


def test_cancel_of_a_delayed_job(tmp):
    sup, c = start(tmp, py_pool(tmp))
    r = request(c, {"op": "submit", "pool": "py", "data": 1, "delay": "10m"})
    assert request(c, {"op": "cancel", "id": r["id"]})["ok"]
    job = request(c, {"op": "result", "id": r["id"]})["job"]
    assert job["state"] == "cancelled", job
    assert pool_status(c)["jobs"]["delayed"] == 0
    assert sup.stop() == 0


def test_delayed_jobs_count_against_max_queue(tmp):
    # Delayed jobs wait in memory (and in the store) as queued ones do,
    # for up to a year: max_queue bounds them too, or a client could
    # park jobs without end. Retries waiting out retry_delay count alike.
    sup, c = start(tmp, py_pool(tmp, "max_queue = 3\n"))
    ids = []
    for k in range(3):
        r = request(c, {"op": "submit", "pool": "py", "data": k,
                        "delay": "1h"})
        assert r["ok"], r
        ids.append(r["id"])
    for extra in ({"delay": "1h"}, {}):
        r = request(c, dict({"op": "submit", "pool": "py", "data": 9},
                            **extra))
        assert not r["ok"] and r["error"] == "queue_full", r
    st = pool_status(c)
    assert st["jobs"]["delayed"] == 3 and st["jobs"]["rejected"] == 2, st
    # One gone, one place.
    assert request(c, {"op": "cancel", "id": ids[0]})["ok"]
    r = request(c, {"op": "submit", "pool": "py", "data": 4, "wait": True,
                    "timeout": 10})
    assert r["ok"] and r["job"]["result"] == 4, r
    assert sup.stop() == 0


def test_big_group_does_not_delay_a_small_group(tmp):
    """A million jobs of one group, then ten of another: the ten run in
    alternation with the big group's, not behind it."""
    sup, c = start(tmp, py_pool(tmp, "max_queue = 2000000\n"))
    assert request(c, {"op": "pause", "pool": "py"})["ok"]
    n, batch = 1000000, 100000
    for base in range(0, n, batch):
        r = request(c, {"op": "submit_many", "pool": "py", "jobs":
                        [{"group": "big", "data": base + i}
                         for i in range(batch)]})
        assert r["ok"] and len(r["ids"]) == batch, r.get("message")
    r = request(c, {"op": "submit_many", "pool": "py", "jobs":
                    [{"group": "small", "data": "s%d" % i}
                     for i in range(10)]})
    assert r["ok"], r
    st = pool_status(c)
    assert st["groups_with_work"] == 2 and st["jobs"]["queued"] == n + 10, st
    assert request(c, {"op": "resume", "pool": "py"})["ok"]
    last = r["ids"][-1]
    r = request(c, {"op": "result", "id": last, "wait": True, "timeout": 30})
    assert r["job"]["state"] == "done", r
    ran = order(tmp)
    small = [i for i, d in enumerate(ran) if isinstance(d, str)]
    # Fair turns: small's 10 jobs are done within the first 21 dispatches.
    assert len(small) == 10 and small[-1] <= 21, (small, ran[:25])
    sup.signal(signal.SIGKILL)


def test_group_concurrency_runs_one_job_of_a_group_at_a_time(tmp):
    sup, c = start(tmp, py_pool(tmp, "group_concurrency = 1\n", workers=3))
    jobs = [{"group": "g", "data": {"sleep": 0.2, "n": i}} for i in range(3)]
    jobs.append({"group": "h", "data": {"sleep": 0.2, "n": 9}})
    r = request(c, {"op": "submit_many", "pool": "py", "jobs": jobs,
                    "wait": True, "timeout": 20})
    assert r["ok"], r
    g = sorted((ts(j["started_at"]), ts(j["finished_at"]))
               for j in r["jobs"][:3])
    for (s1, f1), (s2, f2) in zip(g, g[1:]):
        assert s2 >= f1 - 0.002, g
    h = ts(r["jobs"][3]["started_at"])
    # h is not held behind g: it started while g's first job ran.
    assert h < g[0][1], (h, g)
    assert sup.stop() == 0


def test_rate_limit_200_per_s_over_5s(tmp):
    sup, c = start(tmp, config("pool_echo", name="echo", workers=2, work_us=0,
                               extra="prefetch = 16\nrate_limit = 200/s\n"))
    n = 1001
    r = request(c, {"op": "submit_many", "pool": "echo",
                    "jobs": [{"data": i} for i in range(n)]})
    assert r["ok"], r
    time.sleep(1.0)
    st = pool_status(c, "echo")
    assert st["throttled"] > 0, st
    assert 120 <= st["jobs"]["done"] + st["jobs"]["running"] <= 260, st
    r2 = request(c, {"op": "result", "id": r["ids"][-1], "wait": True,
                     "timeout": 20})
    assert r2["job"]["state"] == "done", r2
    starts = sorted(ts(request(c, {"op": "result", "id": i})["job"]
                       ["started_at"]) for i in r["ids"])
    span = starts[-1] - starts[0]
    rate = (n - 1) / span
    assert 180 <= rate <= 220, (rate, span)
    st = pool_status(c, "echo")
    # The wait shows in queue_wait_ms: half the jobs waited over 2 s.
    assert st["queue_wait_ms"]["p50"] > 2000, st["queue_wait_ms"]
    assert st["throttled"] == 0, st
    assert sup.stop() == 0


def test_bad_flow_fields_get_bad_request_with_a_message(tmp):
    sup, c = start(tmp, py_pool(tmp))
    bad = [
        ({"priority": 11}, "\"priority\" must be an integer from -10 to 10"),
        ({"priority": "high"}, "\"priority\" must be an integer"),
        ({"priority": 1.5}, "\"priority\" must be an integer"),
        ({"delay": "-1s"}, "\"delay\" must be a duration"),
        ({"delay": "soon"}, "\"delay\" must be a duration"),
        ({"delay": "400d"}, "\"delay\" must be a duration"),
        ({"delay": -3}, "\"delay\" must be a duration"),
        ({"delay": "1s", "not_before": rfc3339(time.time())},
         "give \"delay\" or \"not_before\", not both"),
        ({"not_before": "tomorrow"}, "\"not_before\" must be an RFC 3339"),
        ({"not_before": "2026-02-30T00:00:00Z"},
         "\"not_before\" must be an RFC 3339"),
        ({"not_before": 1700000000}, "\"not_before\" must be an RFC 3339"),
        ({"not_before": rfc3339(time.time() + 400 * 86400)},
         "more than a year ahead"),
        ({"group": ""}, "\"group\" must be a string of 1 to 128 bytes"),
        ({"group": "x" * 129}, "\"group\" must be a string of 1 to 128"),
        ({"group": 5}, "\"group\" must be a string"),
    ]
    for fields, msg in bad:
        r = request(c, dict({"op": "submit", "pool": "py", "data": 1},
                            **fields))
        assert not r["ok"] and r["error"] == "bad_request", (fields, r)
        assert msg in r["message"], (fields, r["message"])
    r = request(c, {"op": "submit_many", "pool": "py", "jobs":
                    [{"data": 1}, {"data": 2, "priority": -11}]})
    assert r["error"] == "bad_request" and r["message"].startswith(
        "jobs[1]: \"priority\""), r
    st = pool_status(c)
    assert st["jobs"]["submitted"] == 0, st
    # Good ones, at their bounds.
    for fields in ({"priority": -10}, {"priority": 10}, {"delay": 0},
                   {"delay": "0s"}, {"group": "x" * 128},
                   {"not_before": "2020-01-01T00:00:00+02:00"}):
        r = request(c, dict({"op": "submit", "pool": "py", "data": 1,
                             "wait": True, "timeout": 10}, **fields))
        assert r["ok"] and r["job"]["state"] == "done", (fields, r)
    assert sup.stop() == 0


def check_config(tmp, pool_extra):
    path = write(os.path.join(tmp, "bad.ini"),
                 "[pool:p]\ntype = exec\n" + pool_extra)
    p = subprocess.run([MPSUP, "check", "-c", path], capture_output=True,
                       text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr


def test_bad_flow_keys_are_config_errors_with_file_and_line(tmp):
    cases = [
        ("rate_limit = 0/s\n", "bad.ini:3: rate_limit: expected N/s"),
        ("rate_limit = 100/d\n", "bad.ini:3: rate_limit: expected N/s"),
        ("rate_limit = fast\n", "bad.ini:3: rate_limit: expected N/s"),
        ("rate_limit = 100\n", "bad.ini:3: rate_limit: expected N/s"),
        ("rate_limit = 2000000/s\n", "bad.ini:3: rate_limit: between"),
        ("rate_limit = 1/s\nrate_burst = 0\n", "bad.ini:4: rate_burst"),
        ("rate_burst = 5\n", "bad.ini:3: rate_burst: needs rate_limit"),
        ("rate_per_group = yes\n",
         "bad.ini:3: rate_per_group: needs rate_limit"),
        ("rate_limit = 1/s\nrate_per_group = maybe\n",
         "bad.ini:4: rate_per_group"),
        ("group_concurrency = -1\n", "bad.ini:3: group_concurrency"),
        ("group_concurrency = lots\n", "bad.ini:3: group_concurrency"),
        ("priority_aging = -5s\n", "bad.ini:3: priority_aging"),
    ]
    for extra, want in cases:
        rc, out = check_config(tmp, extra)
        assert rc == 1 and want in out, (extra, rc, out)
    rc, out = check_config(tmp, "rate_limit = 30/m\nrate_burst = 3\n"
                           "rate_per_group = yes\ngroup_concurrency = 2\n"
                           "priority_aging = 0\n")
    assert rc == 0, out


def test_cli_submit_sets_priority_delay_and_group(tmp):
    sup, c = start(tmp, py_pool(tmp))
    p = subprocess.run([MPSUP, "submit", "-c", sup.config, "-p", "py",
                        "--priority", "-4", "--delay", "300ms", "--group",
                        "tenant-1", "-w", "-d", "\"x\""],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    job = json.loads(p.stdout)
    assert job["priority"] == -4 and job["group"] == "tenant-1", job
    assert ts(job["started_at"]) - ts(job["submitted_at"]) >= 0.29, job
    for args, want in ((["--priority", "11"], "--priority 11"),
                       (["--delay", "x"], "--delay x"),
                       (["--group", ""], "--group")):
        p = subprocess.run([MPSUP, "submit", "-c", sup.config, "-p", "py"] +
                           args + ["-d", "1"], capture_output=True, text=True,
                           timeout=30)
        assert p.returncode == 2 and want in p.stderr, (args, p.stderr)
    assert sup.stop() == 0


def test_sqlite_delayed_job_survives_a_restart(tmp):
    text = (config("supervisor", legacy_md5="yes",
                   extra="store = sqlite:jobs.db\n") + py_pool(tmp))
    sup = Supervisor(tmp, text)
    c = connect(tmp)
    t0 = time.time()
    r = request(c, {"op": "submit", "pool": "py", "data": "later",
                    "delay": "3s", "priority": 2, "group": "g"})
    assert r["ok"], r
    c.close()
    sup.signal(signal.SIGTERM)
    assert sup.wait() == 0
    sup = Supervisor(tmp, text, log_name="mpsup2.log")
    c = connect(tmp)
    job = request(c, {"op": "result", "id": r["id"]})["job"]
    assert job["state"] == "delayed" and job["group"] == "g", job
    assert job["priority"] == 2, job
    assert pool_status(c)["jobs"]["delayed"] == 1
    job = request(c, {"op": "result", "id": r["id"], "wait": True,
                      "timeout": 10})["job"]
    assert job["state"] == "done", job
    started = ts(job["started_at"])
    assert t0 + 3.0 - 0.002 <= started <= t0 + 3.0 + 0.1, started - t0
    assert sup.stop() == 0


if __name__ == "__main__":
    run_tests(globals(), timeout=120)
