"""The service manager's notifications (sd_notify protocol, Type=notify).

Each test listens on a datagram socket of its own, names it in
NOTIFY_SOCKET, and reads what the supervisor says: READY=1 once it serves,
STATUS= at most once a second, RELOADING=1 then READY=1 around a reload,
WATCHDOG=1 at half of WATCHDOG_USEC, STOPPING=1.
"""
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (MEMORY_TOOL, MPSUP, Supervisor, config,  # noqa: E402
                     connect, request, run_tests, spawn, wait_for,
                     worker_pids)


class Manager:
    """The service manager's end: a socket that collects the messages."""

    def __init__(self, tmp, abstract=False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = "mpsup-test-notify-%d-%d" % (os.getpid(), time.time_ns())
            self.sock.bind("\0" + name)
            self.address = "@" + name
        else:
            self.address = os.path.join(tmp, "notify.sock")
            self.sock.bind(self.address)
        self.messages = []      # (monotonic time, {key: value})
        self.seen = 0           # messages expect() has looked past

    def env(self, **more):
        """A command prefix that runs mpsup with our socket (and more)."""
        pairs = ["NOTIFY_SOCKET=" + self.address]
        pairs += ["%s=%s" % kv for kv in more.items()]
        return ["env"] + pairs

    def poll(self, timeout):
        """Collect messages for up to timeout seconds; the new ones."""
        new = []
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return new
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                return new
            fields = dict(line.split("=", 1)
                          for line in data.decode().split("\n"))
            self.messages.append((time.monotonic(), fields))
            new.append(fields)

    def expect(self, key, timeout=10.0):
        """The next message, after the last one expected, carrying key."""
        end = time.monotonic() + timeout
        while True:
            for i in range(self.seen, len(self.messages)):
                if key in self.messages[i][1]:
                    self.seen = i + 1
                    return self.messages[i][1]
            if time.monotonic() >= end:
                raise AssertionError("no %s within %.0fs; got %r" %
                                     (key, timeout, self.messages))
            self.poll(min(0.2, max(0.0, end - time.monotonic())))

    def times(self, key):
        return [t for t, m in self.messages if key in m]

    def values(self, key):
        return [m[key] for _, m in self.messages if key in m]


def sleepers(workers=3):
    return config("supervisor") + config(
        "pool_shell", name="sleepers", workers=workers,
        command="exec sleep 1000")


def test_ready_once_listening_and_spawned_then_stopping(tmp):
    """READY=1 with a summary once the socket is bound and workers run."""
    mgr = Manager(tmp)
    sup = Supervisor(tmp, sleepers(), prefix=mgr.env())
    first = mgr.expect("READY")
    assert first["READY"] == "1", first
    assert first["STATUS"] == "1 pool, 3 workers, 0 queued, 0 running", first
    # By then the listener is bound and the workers are forked.
    assert os.path.exists(os.path.join(tmp, "mpsup.sock"))
    assert len(worker_pids(sup, "sleepers")) == 3
    # Nothing before READY=1, and it is said once.
    assert "READY" in mgr.messages[0][1]
    sup.signal(signal.SIGTERM)
    stop = mgr.expect("STOPPING")
    assert stop["STOPPING"] == "1"
    assert sup.wait() == 0
    mgr.poll(0.2)
    assert mgr.values("READY") == ["1"], mgr.messages


def test_workers_do_not_inherit_the_notify_socket(tmp):
    """The variables are the supervisor's: its workers never see them."""
    mgr = Manager(tmp)
    sup = Supervisor(tmp, sleepers(workers=1),
                     prefix=mgr.env(WATCHDOG_USEC="10000000"))
    mgr.expect("READY")
    (pid,) = worker_pids(sup, "sleepers")
    with open("/proc/%d/environ" % pid, "rb") as f:
        env = f.read().split(b"\0")
    names = {e.split(b"=", 1)[0] for e in env}
    assert names.isdisjoint({b"NOTIFY_SOCKET", b"WATCHDOG_USEC",
                             b"WATCHDOG_PID"}), names
    assert b"MPSUP_POOL=sleepers" in env
    assert sup.stop() == 0


def test_status_follows_the_jobs_at_most_once_a_second(tmp):
    """STATUS= tracks queued and running jobs, never twice in a second."""
    mgr = Manager(tmp)
    cfg = config("supervisor", legacy_md5="yes",
                 extra="shutdown_timeout = 1s") + config(
        "pool_exec", name="x", workers=1)
    sup = Supervisor(tmp, cfg, prefix=mgr.env())
    mgr.expect("READY")
    c = connect(tmp)
    # A new job every 0.2s for 3s: the summary changes all the time.
    for _ in range(15):
        r = request(c, {"op": "submit", "pool": "x",
                        "args": ["sleep", "30"]})
        assert r["ok"], r
        mgr.poll(0.2)
    mgr.poll(1.5)
    statuses = mgr.values("STATUS")
    assert statuses[-1] == "1 pool, 1 worker, 14 queued, 1 running", \
        statuses
    times = mgr.times("STATUS")
    assert len(times) >= 3, mgr.messages
    gaps = [b - a for a, b in zip(times, times[1:])]
    # A timer of 1s, read on our side of a busy machine.
    assert min(gaps) >= 0.9, gaps
    # Unchanged: nothing more is sent.
    n = len(times)
    mgr.poll(2.2)
    assert len(mgr.times("STATUS")) == n, mgr.messages[n:]
    sup.signal(signal.SIGTERM)
    mgr.expect("STOPPING")
    # Stopping shows in the summary too.
    wait_for(lambda: mgr.poll(0.3) is not None and any(
        s.startswith("stopping: ") for s in mgr.values("STATUS")),
        what="a stopping summary")
    assert sup.wait() == 0


def test_reload_is_bracketed_by_reloading_and_ready(tmp):
    """SIGHUP: RELOADING=1 (with the clock) then READY=1, also if refused."""
    mgr = Manager(tmp)
    sup = Supervisor(tmp, sleepers(workers=1), prefix=mgr.env())
    mgr.expect("READY")
    with open(sup.config, "a") as f:
        f.write("[pool:more]\ntype = exec\nworkers = 2\n")
    before = time.clock_gettime(time.CLOCK_MONOTONIC)
    sup.signal(signal.SIGHUP)
    m = mgr.expect("RELOADING")
    assert m["RELOADING"] == "1"
    usec = int(m["MONOTONIC_USEC"])
    assert before * 1e6 <= usec <= time.clock_gettime(
        time.CLOCK_MONOTONIC) * 1e6
    mgr.expect("READY")
    sup.wait_log("reloaded")
    # The new summary follows on the status timer.
    wait_for(lambda: mgr.poll(0.3) is not None and
             "2 pools, 3 workers, 0 queued, 0 running" in
             mgr.values("STATUS"), what="the summary after the reload")
    # A file with an error is refused; the running config still serves.
    with open(sup.config, "a") as f:
        f.write("no_such_key = 1\n")
    sup.signal(signal.SIGHUP)
    mgr.expect("RELOADING")
    mgr.expect("READY")
    sup.wait_log("no_such_key")
    kinds = [k for _, m in mgr.messages for k in m
             if k in ("READY", "RELOADING")]
    assert kinds == ["READY", "RELOADING", "READY", "RELOADING", "READY"], \
        kinds
    assert sup.stop() == 0


def test_watchdog_pings_at_half_the_interval(tmp):
    """WATCHDOG_USEC=400ms, our pid in WATCHDOG_PID: a ping every 200ms."""
    mgr = Manager(tmp)
    prefix = mgr.env(WATCHDOG_USEC="400000") + [
        "sh", "-c", 'WATCHDOG_PID=$$ exec "$0" "$@"']
    sup = Supervisor(tmp, sleepers(workers=1), prefix=prefix)
    mgr.expect("READY")
    start = time.monotonic()
    mgr.poll(3.0)
    pings = [t for t in mgr.times("WATCHDOG") if t >= start]
    gaps = [b - a for a, b in zip(pings, pings[1:])]
    # 15 in 3s; well within the 400ms the manager would allow.
    assert 10 <= len(pings) <= 17, len(pings)
    assert min(gaps) >= 0.1, gaps
    if not MEMORY_TOOL:
        assert max(gaps) < 0.4, gaps
    # A loop that stops turning stops the pings.
    sup.signal(signal.SIGSTOP)
    try:
        time.sleep(0.1)
        mgr.poll(0.1)
        stopped_at = time.monotonic()
        mgr.poll(1.0)
        assert [t for t in mgr.times("WATCHDOG") if t > stopped_at] == []
    finally:
        sup.signal(signal.SIGCONT)
    mgr.poll(0.6)
    assert mgr.times("WATCHDOG")[-1] > stopped_at + 1.0
    assert sup.stop() == 0


def test_watchdog_of_another_process_is_not_ours(tmp):
    """WATCHDOG_PID names someone else: no pings, the rest as usual."""
    mgr = Manager(tmp)
    sup = Supervisor(tmp, sleepers(workers=1),
                     prefix=mgr.env(WATCHDOG_USEC="200000", WATCHDOG_PID="1"))
    mgr.expect("READY")
    mgr.poll(1.0)
    assert mgr.times("WATCHDOG") == [], mgr.messages
    assert sup.stop() == 0


def test_abstract_socket_name(tmp):
    """NOTIFY_SOCKET=@name: the abstract namespace."""
    mgr = Manager(tmp, abstract=True)
    sup = Supervisor(tmp, sleepers(workers=1), prefix=mgr.env())
    assert mgr.expect("READY")["STATUS"].startswith("1 pool, 1 worker,")
    assert sup.stop() == 0


def test_bad_notify_variables_are_refused(tmp):
    """A malformed variable: exit 2 before anything starts, saying which."""
    cfg = os.path.join(tmp, "pool.ini")
    with open(cfg, "w") as f:
        f.write(sleepers(workers=1))
    cases = [
        ({"NOTIFY_SOCKET": "relative/path"}, "NOTIFY_SOCKET=relative/path: "
         "expected an absolute path or @abstract-name"),
        ({"NOTIFY_SOCKET": "/" + "x" * 200}, "NOTIFY_SOCKET=/xxx"),
        ({"NOTIFY_SOCKET": os.path.join(tmp, "n.sock"),
          "WATCHDOG_USEC": "soon"}, "WATCHDOG_USEC=soon: expected a "
         "positive number of microseconds"),
        ({"NOTIFY_SOCKET": os.path.join(tmp, "n.sock"),
          "WATCHDOG_USEC": "1000", "WATCHDOG_PID": "-3"},
         "WATCHDOG_PID=-3: expected a process id"),
    ]
    for extra, message in cases:
        env = dict(os.environ, **extra)
        p = spawn([MPSUP, "-c", cfg], env=env, cwd=tmp,
                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                  stderr=subprocess.PIPE)
        out, err = p.communicate(timeout=10)
        assert p.returncode == 2, (extra, p.returncode, err)
        assert message in err.decode(), (extra, err)
        assert not os.path.exists(os.path.join(tmp, "mpsup.sock"))


if __name__ == "__main__":
    run_tests(globals())
