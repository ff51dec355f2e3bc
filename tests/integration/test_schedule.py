"""Periodic jobs: [schedule:NAME] sections tick, submit one job per tick
under an idempotency key, and never submit a tick twice across a restart
of the supervisor (SQLite store)."""
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (MPSUP, Supervisor, config, connect,  # noqa: E402
                     request, run_tests, wait_for, write)

# A stream worker that notes each job id it gets in ids.txt.
PY_WORKER = r'''
import json, os, sys
out = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
for line in sys.stdin:
    job = json.loads(line)
    with open("ids.txt", "a") as f:
        f.write(job["id"] + "\n")
    out.write(json.dumps({"id": job["id"], "ok": True, "result": job["data"]}) + "\n")
    out.flush()
'''

KEY = re.compile(r"^schedule:(\w+):(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.000Z$")


def ini(tmp, schedule, store="sqlite:store.db"):
    write(os.path.join(tmp, "w.py"), PY_WORKER)
    return (config("supervisor", legacy_md5="yes",
                   extra="log = -\nstore = %s\nshutdown_timeout = 5s" % store)
            + config("pool_python", name="p", workers=1, extra="")
            + schedule)


def ids(tmp):
    try:
        with open(os.path.join(tmp, "ids.txt")) as f:
            return f.read().split()
    except FileNotFoundError:
        return []


def records(c, job_ids):
    out = []
    for i in job_ids:
        r = request(c, {"op": "result", "id": i})
        assert r["ok"], r
        out.append(r["job"])
    return out


def status(c):
    r = request(c, {"op": "status"})
    assert r["ok"], r
    return r["status"]


def epoch(ts):
    return int(time.mktime(time.strptime(ts + "UTC", "%Y-%m-%dT%H:%M:%S%Z"))
               - time.timezone)


def test_every_second_submits_once_per_tick_across_a_restart(tmp):
    text = ini(tmp, "[schedule:tick]\npool = p\nevery = 1s\nmissed = once\n"
               "data = {\"n\": 1}\n")
    sup = Supervisor(tmp, text)
    wait_for(lambda: len(ids(tmp)) >= 3, timeout=15, what="three ticks")
    # Restart just after a tick, so the new run starts within the tick
    # the old one submitted last (missed = once then finds its key).
    wait_for(lambda: 0.05 < time.time() % 1 < 0.3, timeout=5, interval=0.01)
    assert sup.stop() == 0
    first_run = len(ids(tmp))
    sup = Supervisor(tmp, text)
    wait_for(lambda: len(ids(tmp)) >= first_run + 3, timeout=15,
             what="three more ticks")
    c = connect(tmp)
    recs = records(c, ids(tmp))
    keys = [r["key"] for r in recs]
    assert len(keys) == len(set(keys)), "a tick was submitted twice: %s" % keys
    ticks = []
    for r in recs:
        m = KEY.match(r["key"])
        assert m and m.group(1) == "tick", r["key"]
        assert r["state"] == "done" and r["result"] == {"n": 1}, r
        ticks.append(epoch(m.group(2)))
    assert ticks == sorted(ticks), ticks
    # Every second from the first tick to the last has its job: the
    # restart lost none (missed = once) and repeated none.
    assert ticks == list(range(ticks[0], ticks[-1] + 1)), ticks
    sched = status(c)["schedules"]
    assert [s["name"] for s in sched] == ["tick"], sched
    assert sched[0]["pool"] == "p" and sched[0]["every_s"] == 1.0, sched
    assert sched[0]["next_run"] > sched[0]["last_run"], sched
    c.close()
    assert sup.stop() == 0


def test_missed_once_runs_the_latest_tick_once_even_after_a_restart(tmp):
    # The minute's tick must not change under the test.
    if time.time() % 60 > 45:
        time.sleep(61 - time.time() % 60)
    text = ini(tmp, "[schedule:m]\npool = p\ncron = * * * * *\n"
               "missed = once\ndata = 7\n")
    sup = Supervisor(tmp, text)
    wait_for(lambda: len(ids(tmp)) == 1, timeout=10, what="the missed tick")
    assert sup.stop() == 0
    sup = Supervisor(tmp, text)
    c = connect(tmp)
    st = status(c)["schedules"][0]
    assert st["submitted"] == 0 and st["last_run"] is None, st
    time.sleep(1.0)
    assert len(ids(tmp)) == 1, ids(tmp)
    (rec,) = records(c, ids(tmp))
    minute = time.strftime("%Y-%m-%dT%H:%M:00.000Z", time.gmtime())
    assert rec["key"] == "schedule:m:" + minute, (rec, minute)
    assert st["next_run"] > minute.replace(".000Z", ""), st
    c.close()
    assert sup.stop() == 0


def test_missed_skip_waits_for_the_next_tick(tmp):
    text = ini(tmp, "[schedule:m]\npool = p\ncron = @hourly\ndata = 7\n",
               store="memory")
    sup = Supervisor(tmp, text)
    c = connect(tmp)
    st = status(c)["schedules"][0]
    assert st["missed"] == "skip" and st["cron"] == "@hourly", st
    assert st["next_run"].endswith(":00:00.000Z"), st
    assert st["submitted"] == 0, st
    time.sleep(0.5)
    assert ids(tmp) == []
    c.close()
    assert sup.stop() == 0


def test_reload_keeps_an_unchanged_schedule_and_adds_new_ones(tmp):
    sched = "[schedule:a]\npool = p\ncron = @daily\n"
    text = ini(tmp, sched, store="memory")
    sup = Supervisor(tmp, text)
    c = connect(tmp)
    before = status(c)["schedules"]
    write(sup.config, text + "[schedule:b]\npool = p\nevery = 1s\n")
    sup.signal(signal.SIGHUP)
    sup.wait_log("reloaded")
    after = status(c)["schedules"]
    assert [s["name"] for s in after] == ["a", "b"], after
    assert after[0]["next_run"] == before[0]["next_run"], (before, after)
    wait_for(lambda: len(ids(tmp)) >= 2, timeout=10, what="ticks of b")
    write(sup.config, text)
    sup.signal(signal.SIGHUP)
    sup.wait_log("reloaded", count=2)
    assert [s["name"] for s in status(c)["schedules"]] == ["a"]
    c.close()
    assert sup.stop() == 0


def test_status_command_lists_schedules_with_their_next_run(tmp):
    text = ini(tmp, "[schedule:nightly]\npool = p\ncron = 30 2 * * *\n"
               "timezone = +02:00\n", store="memory")
    sup = Supervisor(tmp, text)
    connect(tmp).close()
    out = subprocess.run([MPSUP, "status", "-c", sup.config],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out
    line = [l for l in out.stdout.splitlines() if "nightly" in l]
    assert line, out.stdout
    # 02:30 at +02:00 is 00:30 UTC.
    assert "T00:30:00" in line[0] and "30 2 * * *" in line[0], line
    assert sup.stop() == 0


def test_check_reports_a_bad_schedule_with_file_and_line(tmp):
    path = write(os.path.join(tmp, "bad.ini"), ini(
        tmp, "[schedule:t]\npool = p\ncron = */0 * * * *\n"))
    out = subprocess.run([MPSUP, "check", "-c", path], capture_output=True,
                         text=True, timeout=10)
    assert out.returncode == 1, out
    assert re.search(r"bad\.ini:\d+: cron: '\*/0 \* \* \* \*': minute: bad "
                     r"step", out.stdout + out.stderr), out


if __name__ == "__main__":
    run_tests(globals())
