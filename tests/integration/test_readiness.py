"""Readiness (ready = line, ready_timeout) and start order (depends_on):
a worker gets no job before it writes {"ready":true}; one that never does
is replaced; a pool starts only once the pools it depends on have a ready
worker, at start-up and when a reload adds it."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUILDDIR, SRCDIR, Supervisor, config,  # noqa: E402
                     connect, request, run_tests, wait_for, write)

# A stream worker that notes "POOL start|ready|job TIME PID" in events.txt,
# says ready after $READY_AFTER seconds if its pool asks (MPSUP_READY=line),
# never with SAY_READY=0.
PY_WORKER = r'''
import json, os, sys, time
out = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
pool = os.environ["MPSUP_POOL"]
def note(what):
    with open("events.txt", "a") as f:
        f.write("%s %s %.6f %d\n" % (pool, what, time.time(), os.getpid()))
note("start")
time.sleep(float(os.environ.get("READY_AFTER", "0")))
if os.environ["MPSUP_READY"] == "line" and os.environ.get("SAY_READY") != "0":
    note("ready")
    out.write('{"ready":true}\n')
    out.flush()
if os.environ.get("DIE_AFTER_READY"):
    time.sleep(float(os.environ["DIE_AFTER_READY"]))
    sys.exit(1)
for line in sys.stdin:
    job = json.loads(line)
    note("job")
    out.write(json.dumps({"id": job["id"], "ok": True, "result": job["data"]}) + "\n")
    out.flush()
'''

HEAD = config("supervisor", legacy_md5="yes", extra="log = -")


def pool(name, extra=""):
    return config("pool_python", name=name, workers=1, extra=extra)


def events(tmp):
    try:
        with open(os.path.join(tmp, "events.txt")) as f:
            rows = [l.split() for l in f]
    except FileNotFoundError:
        return []
    return [(p, what, float(t), int(pid)) for p, what, t, pid in rows]


def first(tmp, pool_name, what):
    for p, w, t, pid in events(tmp):
        if p == pool_name and w == what:
            return t
    return None


def status_pool(c, name):
    r = request(c, {"op": "status"})
    assert r["ok"], r
    return [p for p in r["status"]["pools"] if p["name"] == name][0]


def test_worker_ready_after_1s_gets_no_job_before(tmp):
    write(os.path.join(tmp, "w.py"), PY_WORKER)
    sup = Supervisor(tmp, HEAD + pool(
        "r", "ready = line\nenv = READY_AFTER=1\nprefetch = 4"))
    c = connect(tmp)
    st = status_pool(c, "r")
    assert st["workers"][0]["state"] == "starting", st
    assert st["workers_idle"] == 0 and st["workers_busy"] == 0, st
    ids = []
    for i in range(3):
        r = request(c, {"op": "submit", "pool": "r", "data": i})
        assert r["ok"], r
        ids.append(r["id"])
    for i in ids:
        r = request(c, {"op": "result", "id": i, "wait": True, "timeout": 20})
        assert r["ok"] and r["job"]["state"] == "done", r
    ready = first(tmp, "r", "ready")
    start = first(tmp, "r", "start")
    assert ready is not None and ready - start >= 0.9, events(tmp)
    jobs = [t for p, w, t, _ in events(tmp) if w == "job"]
    assert len(jobs) == 3 and min(jobs) >= ready, events(tmp)
    assert status_pool(c, "r")["workers"][0]["state"] == "idle"
    c.close()
    assert sup.stop() == 0


def test_worker_never_ready_is_replaced_after_ready_timeout(tmp):
    write(os.path.join(tmp, "w.py"), PY_WORKER)
    sup = Supervisor(tmp, HEAD + pool(
        "r", "ready = line\nready_timeout = 500ms\nenv = SAY_READY=0\n"
        "restart_delay = 10ms"))
    c = connect(tmp)
    r = request(c, {"op": "submit", "pool": "r", "data": 1})
    assert r["ok"], r
    sup.wait_log("not ready within 0.5s (ready_timeout); killing it")
    wait_for(lambda: len({pid for _, w, _, pid in events(tmp)
                          if w == "start"}) >= 2, what="a second worker")
    r = request(c, {"op": "result", "id": r["id"]})
    assert r["job"]["state"] == "queued", r
    assert not [e for e in events(tmp) if e[1] == "job"]
    c.close()
    assert sup.stop() == 0


def test_a_line_before_ready_is_refused(tmp):
    write(os.path.join(tmp, "w.py"),
          "import sys, time\nprint('{\"id\":\"x\",\"ok\":true}', flush=True)\n"
          "time.sleep(30)\n")
    sup = Supervisor(tmp, HEAD + pool("r", "ready = line\nrestart_delay = 5s"))
    sup.wait_log('malformed result line: {"id":"x","ok":true}; killing it')
    assert sup.stop() == 0


def test_restart_backoff_counts_stability_from_readiness(tmp):
    # Up 1.3 s in all, but only 0.1 s after saying ready: a quick death.
    write(os.path.join(tmp, "w.py"), PY_WORKER)
    sup = Supervisor(tmp, HEAD + pool(
        "r", "ready = line\nenv = READY_AFTER=1.2\nenv = DIE_AFTER_READY=0.1\n"
        "restart_delay = 10ms\nrestart_delay_max = 20ms"))
    sup.wait_log("pool r: workers keep dying", timeout=30)
    assert len([e for e in events(tmp) if e[1] == "ready"]) >= 5
    assert sup.stop() == 0


def test_helpers_say_ready_after_their_setup(tmp):
    write(os.path.join(tmp, "h.py"),
          "import time, mpsup_worker\n"
          "def setup():\n"
          "    time.sleep(0.5)\n"
          "    open('setup.txt', 'w').write(repr(time.time()))\n"
          "mpsup_worker.run(lambda d: [d, time.time()], setup=setup)\n")
    pyenv = "env = PYTHONPATH=%s" % os.path.join(SRCDIR, "worker")
    text = (HEAD + config("pool_python", name="py", workers=1, extra=(
        "ready = line\n" + pyenv)).replace("w.py", "h.py")
        + config("pool_python", name="old", workers=1,
                 extra=pyenv).replace("w.py", "h.py")
        + config("pool_echo", name="c", workers=1, work_us=0,
                 extra="ready = line"))
    sup = Supervisor(tmp, text)
    c = connect(tmp)
    for name in ("py", "old", "c"):
        r = request(c, {"op": "submit", "pool": name, "data": 5, "wait": True,
                        "timeout": 20})
        assert r["ok"] and r["job"]["state"] == "done", (name, r)
        if name != "c":
            assert r["job"]["result"][0] == 5, r
    with open(os.path.join(tmp, "setup.txt")) as f:
        set_up = float(f.read())
    r = request(c, {"op": "submit", "pool": "py", "data": 1, "wait": True})
    assert r["job"]["result"][1] >= set_up, (r, set_up)
    assert "malformed" not in sup.log() and "killing" not in sup.log(), sup.log()
    c.close()
    assert sup.stop() == 0


def test_depends_on_starts_a_pool_after_its_dependency_is_ready(tmp):
    write(os.path.join(tmp, "w.py"), PY_WORKER)
    sup = Supervisor(tmp, HEAD + pool("app", "depends_on = db")
                     + pool("db", "ready = line\nenv = READY_AFTER=1"))
    c = connect(tmp)
    assert status_pool(c, "app")["state"] == "waiting"
    sup.wait_log("pool app: waiting for pool db to have a ready worker")
    wait_for(lambda: first(tmp, "app", "start"), timeout=15, what="app start")
    assert first(tmp, "app", "start") >= first(tmp, "db", "ready"), events(tmp)
    assert status_pool(c, "app")["state"] == "running"
    r = request(c, {"op": "submit", "pool": "app", "data": 1, "wait": True,
                    "timeout": 20})
    assert r["job"]["state"] == "done", r
    c.close()
    assert sup.stop() == 0


def test_reload_adds_pools_in_dependency_order(tmp):
    write(os.path.join(tmp, "w.py"), PY_WORKER)
    text = HEAD + pool("base")
    sup = Supervisor(tmp, text)
    c = connect(tmp)
    write(sup.config, text + pool("web", "depends_on = cache")
          + pool("cache", "ready = line\nenv = READY_AFTER=1"))
    sup.signal(signal.SIGHUP)
    sup.wait_log("reloaded")
    assert status_pool(c, "web")["state"] == "waiting"
    wait_for(lambda: first(tmp, "web", "start"), timeout=15, what="web start")
    assert first(tmp, "web", "start") >= first(tmp, "cache", "ready"), \
        events(tmp)
    c.close()
    assert sup.stop() == 0


def test_stop_while_a_pool_waits(tmp):
    write(os.path.join(tmp, "w.py"), PY_WORKER)
    sup = Supervisor(tmp, HEAD + pool("app", "depends_on = db")
                     + pool("db", "ready = line\nenv = SAY_READY=0"))
    sup.wait_log("pool app: waiting for pool db")
    assert sup.stop() == 0
    assert first(tmp, "app", "start") is None


def test_check_names_a_depends_on_cycle_with_file_and_line(tmp):
    import re
    import subprocess
    from harness import MPSUP
    path = write(os.path.join(tmp, "bad.ini"), HEAD + pool("a", "depends_on = b")
                 + pool("b", "depends_on = a\nready = sometimes"))
    out = subprocess.run([MPSUP, "check", "-c", path], capture_output=True,
                         text=True, timeout=10)
    assert out.returncode == 1, out
    text = out.stdout + out.stderr
    assert re.search(r"bad\.ini:\d+: depends_on: cycle a -> b -> a", text), text
    assert re.search(r"bad\.ini:\d+: ready: 'sometimes' is not one of none, "
                     r"line", text), text


if __name__ == "__main__":
    run_tests(globals())
