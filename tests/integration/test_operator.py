"""The operator commands against a real supervisor: jobs, logs (and
logs -f with a follower that never reads), ctl restart|signal|down|up and
status POOL, over JSON and pickle requests and through the CLI, with
good and bad input."""
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (MPSUP, Supervisor, config, connect, request,  # noqa: E402
                     run_tests, spawn, wait_for, worker_pids, write)

HEAD = config("supervisor", legacy_md5="yes")
EXEC_POOL = config("pool_exec", name="ex", workers=2, extra="output = log")


def mpsup(*args, timeout=60):
    """Run the CLI; return (exit status, stdout, stderr) as text."""
    p = subprocess.run([MPSUP] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def start(tmp, pools, head=HEAD):
    sup = Supervisor(tmp, head + pools)
    wait_for(lambda: os.path.exists(os.path.join(tmp, "mpsup.sock")),
             what="listener socket")
    wait_for(lambda: mpsup("status", "-c", sup.config)[0] == 0,
             what="status to answer")
    return sup


def run_job(c, *argv):
    rep = request(c, {"op": "submit", "pool": "ex", "args": list(argv),
                      "wait": True, "timeout": 30})
    assert rep["ok"], rep
    return rep["id"]


def test_jobs_lists_newest_first_and_filters(tmp):
    sup = start(tmp, EXEC_POOL + config("pool_exec", name="other", workers=1))
    c = connect(tmp)
    first = run_job(c, "true")
    failed = run_job(c, "sh", "-c", "echo no >&2; exit 3")
    last = run_job(c, "true")
    rep = request(c, {"op": "submit", "pool": "other", "args": ["true"], "wait": True})
    other = rep["id"]

    rep = request(c, {"op": "jobs"})
    assert rep["ok"] and rep["more"] is False, rep
    assert [j["id"] for j in rep["jobs"]] == [other, last, failed, first]
    rep = request(c, {"op": "jobs", "pool": "ex", "state": "failed"})
    assert [(j["id"], j["exit_code"]) for j in rep["jobs"]] == [(failed, 3)], rep
    rep = request(c, {"op": "jobs", "pool": "ex", "state": "done,failed", "limit": 2})
    assert [j["id"] for j in rep["jobs"]] == [last, failed], rep
    # since: only what changed within the last second.
    time.sleep(1.2)
    recent = run_job(c, "true")
    rep = request(c, {"op": "jobs", "since": 1})
    assert [j["id"] for j in rep["jobs"]] == [recent], rep
    # The same over a pickled request.
    c.send({"op": "jobs", "pool": "other"})
    rep = c.recv()
    assert rep["ok"] and [j["id"] for j in rep["jobs"]] == [other], rep

    # Bad input: a clear error, and the connection still serves.
    rep = request(c, {"op": "jobs", "pool": "nope"})
    assert rep == {"ok": False, "error": "unknown_pool",
                   "message": "no pool named 'nope'"}, rep
    rep = request(c, {"op": "jobs", "state": "lost"})
    assert rep["error"] == "bad_request" and "unknown state" in rep["message"], rep
    rep = request(c, {"op": "jobs", "limit": 0})
    assert rep["error"] == "bad_request" and "limit" in rep["message"], rep

    # The CLI: a table, --json, and the same errors with exit 1.
    rc, out, err = mpsup("jobs", "-c", sup.config, "-p", "ex", "--state", "failed")
    assert rc == 0, (rc, err)
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["ID", "POOL", "STATE"], out
    assert len(lines) == 2 and lines[1].startswith(failed), out
    assert "exit 3" in lines[1], out
    rc, out, err = mpsup("jobs", "-c", sup.config, "--json", "-n", "2")
    assert rc == 0, (rc, err)
    assert [j["id"] for j in json.loads(out)] == [recent, other], out
    rc, out, err = mpsup("jobs", "-c", sup.config, "--since", "10m", "--json")
    assert rc == 0 and len(json.loads(out)) == 5, (rc, out, err)
    rc, out, err = mpsup("jobs", "-c", sup.config, "-p", "nope")
    assert rc == 1 and "mpsup: unknown_pool: no pool named 'nope'" in err, (rc, err)
    rc, out, err = mpsup("jobs", "-c", sup.config, "--state", "lost")
    assert rc == 2 and "unknown state" in err and out == "", (rc, out, err)
    assert sup.stop() == 0


def test_logs_answers_recent_records_by_pool_and_job(tmp):
    sup = start(tmp, EXEC_POOL)
    c = connect(tmp)
    a = run_job(c, "sh", "-c", "echo alpha-1; echo alpha-2")
    b = run_job(c, "sh", "-c", "echo beta-1")
    sup.wait_log("beta-1")

    rep = request(c, {"op": "logs", "job": a})
    assert rep["ok"] and rep["follow"] is False, rep
    assert [r["line"] for r in rep["records"]] == ["alpha-1", "alpha-2"], rep
    assert all(r["pool"] == "ex" and r["job"] == a for r in rep["records"]), rep
    rep = request(c, {"op": "logs", "pool": "ex", "limit": 1})
    assert [(r["job"], r["line"]) for r in rep["records"]] == [(b, "beta-1")], rep
    # Every record: supervisor messages too, oldest first.
    rep = request(c, {"op": "logs", "limit": 4096})
    msgs = [r.get("msg") for r in rep["records"]]
    assert any(m and "starting" in m for m in msgs), msgs
    c.send({"op": "logs", "job": b})
    assert [r["line"] for r in c.recv()["records"]] == ["beta-1"]

    rep = request(c, {"op": "logs", "pool": "nope"})
    assert rep["error"] == "unknown_pool", rep
    rep = request(c, {"op": "logs", "limit": 5000})
    assert rep["error"] == "bad_request", rep

    rc, out, err = mpsup("logs", "-c", sup.config, "--job", a)
    assert rc == 0, (rc, err)
    lines = out.splitlines()
    assert len(lines) == 2, out
    assert ("job=%s: alpha-1" % a) in lines[0] and " ex." in lines[0], lines
    rc, out, err = mpsup("logs", "-c", sup.config, "-p", "ex", "-n", "1", "--json")
    assert rc == 0 and json.loads(out)["line"] == "beta-1", (rc, out, err)
    rc, out, err = mpsup("logs", "-c", sup.config, "-p", "nope")
    assert rc == 1 and "unknown_pool" in err, (rc, err)
    assert sup.stop() == 0


def test_logs_follow_streams_new_records_to_every_follower(tmp):
    sup = start(tmp, EXEC_POOL)
    c = connect(tmp)
    f = connect(tmp)
    f.send_bytes(json.dumps({"op": "logs", "follow": True, "limit": 0,
                             "pool": "ex"}).encode())
    first = json.loads(f.recv_bytes())
    assert first == {"ok": True, "records": [], "follow": True}, first
    # A pickling follower gets pickles.
    p = connect(tmp)
    p.send({"op": "logs", "follow": True, "limit": 0})
    assert p.recv()["follow"] is True
    cli = spawn([MPSUP, "logs", "-c", sup.config, "-f", "-n", "0", "-p", "ex"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.3)
    job = run_job(c, "sh", "-c", "echo live-one")

    def lines_of(conn, decode):
        got = []
        while conn.poll(10):
            got += [r.get("line") for r in decode(conn)["records"]]
            if "live-one" in got:
                return got
        raise AssertionError("no live-one in %r" % got)
    assert "live-one" in lines_of(f, lambda x: json.loads(x.recv_bytes()))
    assert "live-one" in lines_of(p, lambda x: x.recv())
    line = cli.stdout.readline().decode()
    assert ("job=%s: live-one" % job) in line, line
    # Requests on other connections are answered meanwhile.
    assert request(c, {"op": "status"})["ok"]
    cli.terminate()
    cli.wait(10)
    # The supervisor ending ends the stream, with a word on stderr.
    cli = spawn([MPSUP, "logs", "-c", sup.config, "-f", "-n", "1"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.3)
    assert sup.stop() == 0
    out, err = cli.communicate(timeout=10)
    assert cli.returncode == 1 and b"ended the stream" in err, (cli.returncode, err)
    assert b"stopped" in out or b"stopping" in out, out


def raw_follower(tmp):
    """A follower that never reads what it is sent (small receive buffer)."""
    conn = connect(tmp)
    s = socket.socket(fileno=os.dup(conn.fileno()))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    body = json.dumps({"op": "logs", "follow": True, "limit": 0}).encode()
    s.sendall(struct.pack("!i", len(body)) + body)
    return conn, s


def test_follower_that_never_reads_is_dropped_and_others_are_served(tmp):
    sup = start(tmp, EXEC_POOL, head=config("supervisor", legacy_md5="yes", extra="max_unsent = 64K"))
    c = connect(tmp)
    conn, s = raw_follower(tmp)
    time.sleep(0.2)
    # About 3 MB of log lines, far more than the socket and max_unsent hold.
    run_job(c, "sh", "-c", "i=0; while [ $i -lt 3000 ]; do "
            "printf '%01000d\\n' $i; i=$((i+1)); done")
    sup.wait_log("replies unread (max_unsent); dropping the connection")
    # The supervisor goes on: jobs run, status answers, the log is whole.
    assert run_job(c, "sh", "-c", "echo after")
    assert request(c, {"op": "status"})["ok"]
    assert request(c, {"op": "jobs", "limit": 1})["jobs"][0]["state"] == "done"
    sup.wait_log("after")
    assert len([l for l in sup.lines() if l.endswith("0002999")]) == 1
    # The dropped follower reads what was sent, then the end.
    s.settimeout(10)
    got = 0
    while True:
        chunk = s.recv(1 << 16)
        if not chunk:
            break
        got += len(chunk)
    assert got < 3000 * 1000, got
    s.close()
    conn.close()
    assert sup.stop() == 0


def test_ctl_restart_replaces_every_worker_and_loses_no_job(tmp):
    sup = start(tmp, EXEC_POOL)
    c = connect(tmp)
    before = worker_pids(sup, "ex")
    assert len(before) == 2
    rep = request(c, {"op": "submit_many", "pool": "ex", "jobs": [
        {"args": ["sleep", "0.2"]} for _ in range(8)]})
    ids = rep["ids"]
    rc, out, err = mpsup("ctl", "-c", sup.config, "restart", "ex")
    assert rc == 0 and "replacing its workers one at a time" in out, (rc, out, err)
    # Rolling: while the two are replaced, one of them always runs.
    fewest = 2
    end = time.monotonic() + 30
    while time.monotonic() < end:
        pids = worker_pids(sup, "ex")
        fewest = min(fewest, len(pids))
        if len(pids) == 2 and not set(pids) & set(before):
            break
        time.sleep(0.01)
    assert fewest >= 1, fewest
    for i in ids:
        rep = request(c, {"op": "result", "id": i, "wait": True, "timeout": 30})
        assert rep["job"]["state"] == "done", rep
    wait_for(lambda: len(set(worker_pids(sup, "ex")) - set(before)) == 2
             and len(worker_pids(sup, "ex")) == 2, what="two new workers")
    assert len([l for l in sup.lines() if "replacing it (ctl restart)" in l]) == 2
    # Pickled, and bad input.
    c.send({"op": "restart", "pool": "ex"})
    assert c.recv()["ok"] is True
    rep = request(c, {"op": "restart", "pool": "nope"})
    assert rep["error"] == "unknown_pool", rep
    rep = request(c, {"op": "restart"})
    assert rep["error"] == "bad_request", rep
    rc, out, err = mpsup("ctl", "-c", sup.config, "restart", "nope")
    assert rc == 1 and "unknown_pool" in err, (rc, err)
    assert sup.stop() == 0


def test_ctl_down_keeps_the_queue_and_up_runs_it(tmp):
    sup = start(tmp, EXEC_POOL)
    c = connect(tmp)
    rc, out, err = mpsup("ctl", "-c", sup.config, "down", "ex")
    assert rc == 0 and "down" in out, (rc, out, err)
    wait_for(lambda: worker_pids(sup, "ex") == [], what="no workers")
    rep = request(c, {"op": "submit", "pool": "ex", "args": ["echo", "queued-while-down"]})
    assert rep["ok"], rep
    job = rep["id"]
    time.sleep(0.5)
    st = request(c, {"op": "status", "pool": "ex"})["status"]["pools"][0]
    assert st["down"] is True and st["queue_depth"] == 1, st
    assert worker_pids(sup, "ex") == []
    rc, out, err = mpsup("status", "-c", sup.config, "ex")
    assert rc == 0 and out.splitlines()[1].split()[2] == "down", out
    rep = request(c, {"op": "down", "pool": "ex"})
    assert rep["ok"] and "already down" in rep["message"], rep
    rep = request(c, {"op": "restart", "pool": "ex"})
    assert rep["error"] == "bad_request" and "is down" in rep["message"], rep
    rc, out, err = mpsup("ctl", "-c", sup.config, "--json", "up", "ex")
    assert rc == 0 and json.loads(out) == {"ok": True, "message": "pool ex: up"}, out
    rep = request(c, {"op": "result", "id": job, "wait": True, "timeout": 30})
    assert rep["job"]["state"] == "done", rep
    assert len(worker_pids(sup, "ex")) == 2
    rep = request(c, {"op": "up", "pool": "nope"})
    assert rep["error"] == "unknown_pool", rep
    # ctl stop keeps meaning the whole supervisor.
    rc, out, err = mpsup("ctl", "-c", sup.config, "stop")
    assert rc == 0, (rc, err)
    assert sup.wait() == 0


SIGNAL_WORKER = "trap \"echo got-usr1 >&2\" USR1; while :; do sleep 0.05; done"


def test_ctl_signal_reaches_every_worker(tmp):
    sup = start(tmp, config("pool_shell", name="sh", workers=2,
                            command=SIGNAL_WORKER, extra=""))
    wait_for(lambda: len(worker_pids(sup, "sh")) == 2, what="workers")
    rc, out, err = mpsup("ctl", "-c", sup.config, "signal", "sh", "USR1")
    assert rc == 0 and "signalled 2 workers" in out, (rc, out, err)
    sup.wait_log("got-usr1", count=2)
    c = connect(tmp)
    c.send({"op": "signal", "pool": "sh", "signal": "SIGUSR1"})
    assert c.recv()["ok"] is True
    sup.wait_log("got-usr1", count=4)
    rep = request(c, {"op": "signal", "pool": "sh", "signal": "SEGV"})
    assert rep["error"] == "bad_request" and "HUP" in rep["message"], rep
    rep = request(c, {"op": "signal", "pool": "nope", "signal": "HUP"})
    assert rep["error"] == "unknown_pool", rep
    rc, out, err = mpsup("ctl", "-c", sup.config, "signal", "sh", "SEGV")
    assert rc == 2 and "unknown signal" in err, (rc, err)
    assert sup.stop() == 0


def test_status_of_one_pool_lists_its_workers(tmp):
    sup = start(tmp, EXEC_POOL + config("pool_exec", name="other", workers=1))
    rc, out, err = mpsup("status", "-c", sup.config, "ex")
    assert rc == 0, (rc, err)
    lines = out.splitlines()
    assert lines[1].split()[0] == "ex" and len(lines) == 2 + 1 + 1 + 2, out
    assert lines[3].split()[:3] == ["WORKER", "PID", "STATE"], out
    assert sorted(int(l.split()[1]) for l in lines[4:]) == worker_pids(sup, "ex")
    rc, out, err = mpsup("status", "-c", sup.config, "--json", "other")
    assert rc == 0 and [p["name"] for p in json.loads(out)["pools"]] == ["other"]
    rc, out, err = mpsup("status", "-c", sup.config, "nope")
    assert rc == 1 and "mpsup: unknown_pool: no pool named 'nope'" in err, (rc, err)
    assert sup.stop() == 0


def test_roles_jobs_and_logs_for_any_key_ctl_for_admin(tmp):
    head = HEAD + "admin_authkey_file = admin.key\n"
    assert mpsup("keygen", os.path.join(tmp, "admin.key"))[0] == 0
    sup = start(tmp, config("pool_exec", name="ex", workers=1,
                            extra="trusted = yes"), head=head)
    plain = ["-a", "unix:" + os.path.join(tmp, "mpsup.sock"),
             "-k", os.path.join(tmp, "authkey")]
    assert mpsup("jobs", *plain)[0] == 0
    assert mpsup("logs", *plain, "-n", "1")[0] == 0
    for cmd in (["restart", "ex"], ["down", "ex"], ["up", "ex"],
                ["signal", "ex", "HUP"]):
        rc, out, err = mpsup("ctl", *plain, *cmd)
        assert rc == 1 and "mpsup: forbidden: " in err, (cmd, rc, err)
    rc, out, err = mpsup("ctl", "-c", sup.config, "restart", "ex")
    assert rc == 0, (rc, err)
    assert sup.stop() == 0


def threads(pid):
    """{tid: (name, blocked signal mask)} of a live process."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
            name = f.read().strip()
        with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
            blk = [l for l in f if l.startswith("SigBlk:")][0]
        out[int(tid)] = (name, int(blk.split()[1], 16))
    return out


def test_helper_threads_are_named_and_leave_signals_to_the_loop(tmp):
    # top -H and perf tell the threads apart by name; a signal meant for
    # the loop never runs on (or interrupts a call of) a helper thread.
    head = HEAD + "store = sqlite:%s\n" % os.path.join(tmp, "jobs.db")
    sup = start(tmp, EXEC_POOL, head=head)
    ts = threads(sup.pid)
    assert ts[sup.pid][0] == "mpsup", ts
    helpers = sorted(name for tid, (name, _) in ts.items() if tid != sup.pid)
    assert helpers == ["mpsup-ckpt", "mpsup-commit", "mpsup-log"], ts
    wanted = 0
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1,
                signal.SIGCHLD, signal.SIGPIPE, signal.SIGALRM):
        wanted |= 1 << (sig - 1)
    for tid, (name, blocked) in ts.items():
        if tid == sup.pid:
            assert blocked & wanted == 0, (name, hex(blocked))
        else:
            assert blocked & wanted == wanted, (name, hex(blocked))
    # The loop still takes them all: a reload, a reopen, a job, a stop.
    c = connect(tmp)
    sup.signal(signal.SIGHUP)
    sup.wait_log("reloaded ")
    sup.signal(signal.SIGUSR1)
    run_job(c, "true")
    assert sup.stop() == 0


if __name__ == "__main__":
    run_tests(globals())
