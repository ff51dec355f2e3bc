"""Chaos: jobs keep their promise while workers are killed at random."""
import json
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (SANITIZED, Supervisor, check_invariant,  # noqa: E402
                     config, connect, request, run_tests, worker_pids)

# The pool runs the C echo worker (examples/echo_worker), which starts in a
# millisecond, so the pool keeps working between kills; a Python worker
# takes about as long to start as the killer's period on these machines.
# A kill every 50 ms. Sanitizer builds start and run workers about three
# times slower, so a fresh worker would face three times the kills before
# it answers anything: scale the period with them.
PERIOD = 0.15 if SANITIZED else 0.05


def test_20000_jobs_survive_random_kill9_every_50ms(tmp):
    sup = Supervisor(tmp, config(
        "supervisor", legacy_md5="yes", extra="log = out.log") + config(
        "pool_echo", name="p", workers=4, work_us=200,
        extra="prefetch = 8\nmax_attempts = 10\nretry_delay = 10ms\n"
              "restart_delay = 10ms\nrestart_delay_max = 200ms"))
    c = connect(tmp)
    stop = threading.Event()
    kills = [0]
    rng = random.Random(1234)

    def killer():
        while not stop.is_set():
            pids = worker_pids(sup, "p")
            if pids:
                try:
                    os.kill(rng.choice(pids), signal.SIGKILL)
                    kills[0] += 1
                except ProcessLookupError:
                    pass
            time.sleep(PERIOD)
    t = threading.Thread(target=killer)
    t.start()
    try:
        ids = []
        # 200 us of work a job: about a second per 4 workers' 20,000, so
        # every kill lands on a worker with jobs in flight.
        for start in range(0, 20000, 2000):
            r = request(c, {"op": "submit_many", "pool": "p",
                            "jobs": [{"data": i} for i in range(start, start + 2000)]})
            assert r["ok"], r
            ids += r["ids"]
            check_invariant(request(c, {"op": "status"})["status"])
        # Wait for every job, checking the accounting as they finish.
        for i, jid in enumerate(ids):
            c.send_bytes(json.dumps({"op": "result", "id": jid, "wait": True, "timeout": 120}).encode())
            if i % 1000 == 999:
                c.send_bytes(b'{"op":"status"}')
        seen = set()
        for i, jid in enumerate(ids):
            r = json.loads(c.recv_bytes())
            assert r["ok"] and r["job"]["id"] == jid, r
            assert r["job"]["state"] == "done" and r["job"]["result"] == i, r["job"]
            assert 1 <= r["job"]["attempts"] <= 10
            seen.add(jid)
            if i % 1000 == 999:
                check_invariant(json.loads(c.recv_bytes())["status"])
        assert len(seen) == 20000
    finally:
        stop.set()
        t.join()
    st = request(c, {"op": "status"})["status"]
    check_invariant(st)
    j = st["pools"][0]["jobs"]
    assert j["submitted"] == 20000 and j["done"] == 20000, j
    assert j["failed"] == j["timed_out"] == j["cancelled"] == 0, j
    assert kills[0] >= 5, "the killer only killed %d workers" % kills[0]
    assert j["retried"] >= 5, "kills should have interrupted jobs: %s" % j
    print("# %d workers killed, %d retries" % (kills[0], j["retried"]))
    # Exactly one terminal record per job: a finished job is never re-run.
    assert sup.stop() == 0


if __name__ == "__main__":
    run_tests(globals(), timeout=240)
