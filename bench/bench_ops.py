"""Operational benchmarks for `make bench` (bench/run.py imports this),
each beside a baseline taken in the same run:

  * restart: kill -9 of one of 101 stream workers until its replacement
    has exec'd, against the same kill and a posix_spawn from Python;
  * cold start: 100 workers from `mpsup -c` until each has exec'd,
    against 100 posix_spawn calls from Python (medians of 5 rounds);
  * exec jobs: shell lines through `mpsup submit --stdin -w` and
    {"args": ["/bin/true"]} jobs through submit_many, against
    `xargs -P2 sh -c` and `xargs -P2 /bin/true`;
  * one client's submit+wait round trip, against a bare Python
    multiprocessing.connection Listener answering the same requests;
  * stream jobs through the CLI, `seq N | mpsup submit --stdin -w`.

"Exec'd" is seen by polling /proc: a new child of the parent whose
/proc/PID/exe is the worker binary. The poll sleeps between passes
(RESTART_POLL_S, COLD_POLL_S): a poll that spins holds one of the
machine's CPUs, and on 2 cores ftrace showed the supervisor, woken on
that CPU, waiting ~1.2 ms for the poller's time slice to end, and the
children of a cold start queueing behind it for 4-8 ms each, where the
baseline, which polls only once its own spawns are done, pays nothing
(bench/README.md, "Restart and cold start"). The sleep costs the
supervisor's side up to one interval of late detection; the baseline's
is seen at the first pass.
"""

# Between two passes over /proc: a tenth of the restart row's aim, and
# a hundredth of the cold start's baseline.
RESTART_POLL_S = 0.0001
COLD_POLL_S = 0.001
# Cold starts per row (each beside its baseline), of which the median.
COLD_ROUNDS = 5

import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Client, Listener

import run as R


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return {int(x) for x in f.read().split()}
    except OSError:
        return set()


def exe(pid):
    try:
        return os.readlink("/proc/%d/exe" % pid)
    except OSError:
        return None


def exec_count(kids, binary, seen):
    """How many of kids run binary. A pid found running it is kept in
    seen and not looked at again (an exec does not go back, and the pids
    are this run's children, not reused while it polls): a pass costs a
    readlink per child still loading, not one per child."""
    for pid in kids - seen:
        if exe(pid) == binary:
            seen.add(pid)
    return len(seen & kids)


def wait_new_exec(parent, known, binary, timeout=10):
    """Poll until a child of parent outside known runs binary; its pid."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in children(parent) - known:
            if exe(pid) == binary:
                return pid
        time.sleep(RESTART_POLL_S)
    raise R.BenchError("no new %s under pid %d within %ss" % (
        os.path.basename(binary), parent, timeout))


def step_restart(args, workdir, kills=30):
    """Median ms from kill -9 of a worker to its replacement's exec."""
    sv = R.Supervisor(args, workdir, "restart",
                      {"w": dict(R.echo_pool(args, 101, 1, 1000),
                                 restart_delay=0)})
    binary = os.path.realpath(args.echo_worker)
    times = []
    try:
        sv.start(101, timeout=120)
        for _ in range(kills):
            known = children(sv.proc.pid)
            victim = min(known)     # the oldest: a different slot each time
            t0 = time.perf_counter()
            os.kill(victim, signal.SIGKILL)
            pid = wait_new_exec(sv.proc.pid, known, binary)
            times.append((time.perf_counter() - t0) * 1000)
            sv.worker_pids.add(pid)
            time.sleep(0.02)
    finally:
        sv.stop()
    # Baseline: the same kill, then a spawn from here, seen the same way.
    base = []
    me = os.getpid()
    p = subprocess.Popen([binary], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, start_new_session=True)
    try:
        for _ in range(kills):
            known = children(me)
            t0 = time.perf_counter()
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
            p = subprocess.Popen([binary], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE,
                                 start_new_session=True)
            wait_new_exec(me, known, binary)
            base.append((time.perf_counter() - t0) * 1000)
    finally:
        p.kill()
        p.wait()
    return statistics.median(times), statistics.median(base)


def cold_once(args, workdir, name, n):
    """Seconds from `mpsup -c` to n exec'd workers, and from Python."""
    binary = os.path.realpath(args.echo_worker)
    sv = R.Supervisor(args, workdir, name,
                      {"w": R.echo_pool(args, n, 1, 1000)})
    try:
        t0 = time.perf_counter()
        sv.proc = subprocess.Popen([args.mpsup, "-c", sv.ini],
                                   stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL,
                                   stdin=subprocess.DEVNULL, cwd=sv.dir,
                                   start_new_session=True)
        deadline = time.monotonic() + 60
        seen = set()
        while True:
            kids = children(sv.proc.pid)
            if exec_count(kids, binary, seen) >= n:
                break
            if time.monotonic() > deadline or sv.proc.poll() is not None:
                raise R.BenchError("cold start: workers did not come up")
            time.sleep(COLD_POLL_S)
        mpsup_s = time.perf_counter() - t0
        sv.worker_pids |= kids
    finally:
        sv.stop()
    me = os.getpid()
    procs = []
    try:
        t0 = time.perf_counter()
        for _ in range(n):
            procs.append(subprocess.Popen(
                [binary], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                start_new_session=True))
        pids = {p.pid for p in procs}
        seen = set()
        while exec_count(children(me) & pids, binary, seen) < n:
            time.sleep(COLD_POLL_S)
        base_s = time.perf_counter() - t0
    finally:
        for p in procs:
            p.kill()
            p.wait()
    return mpsup_s, base_s


def step_cold(args, workdir, n=100, rounds=COLD_ROUNDS):
    """Medians over rounds of cold_once(), mpsup and Python in turns: one
    round moves with the machine by a third either way."""
    runs = [cold_once(args, workdir, "cold%d" % i, n) for i in range(rounds)]
    return (statistics.median(r[0] for r in runs),
            statistics.median(r[1] for r in runs))


def exec_supervisor(args, workdir, name):
    return R.Supervisor(args, workdir, name,
                        {"x": {"type": "exec", "workers": 2,
                               "max_queue": 1000000}})


def timed(argv, stdin_bytes, timeout, what):
    t0 = time.perf_counter()
    p = subprocess.run(argv, input=stdin_bytes, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=timeout,
                       start_new_session=True)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise R.BenchError("%s exited %d: %s" % (
            what, p.returncode, p.stderr.decode(errors="replace")[-500:]))
    return dt


def step_exec(args, workdir, n):
    """Exec jobs/s: shell lines and /bin/true, beside xargs -P2."""
    sv = exec_supervisor(args, workdir, "exec")
    lines = b"".join(b"true %d\n" % i for i in range(n))
    try:
        sv.start(2)
        shell_s = timed([args.mpsup, "submit", "-a", "unix:" + sv.sock,
                         "-k", sv.keyfile, "-p", "x", "--stdin", "-w"],
                        lines, 600, "mpsup submit --stdin")
        jobs = [{"args": ["/bin/true"]} for _ in range(n)]
        c = Client(sv.sock, authkey=open(sv.keyfile, "rb").read().strip())
        t0 = time.perf_counter()
        for i in range(0, n, 1000):
            c.send_bytes(json.dumps({"op": "submit_many", "pool": "x",
                                     "jobs": jobs[i:i + 1000],
                                     "wait": True, "timeout": 600}).encode())
            r = json.loads(c.recv_bytes())
            if not r.get("ok") or any(j["exit_code"] != 0
                                      for j in r["jobs"]):
                raise R.BenchError("exec submit_many: %s" % str(r)[:300])
        true_s = time.perf_counter() - t0
        c.close()
        done = sv.pools()["x"]["jobs"]["done"]
        if done != 2 * n:
            raise R.BenchError("exec: %d of %d jobs done" % (done, 2 * n))
    finally:
        sv.stop()
    xs = timed(["xargs", "-P2", "-I{}", "sh", "-c", "{}"], lines, 600,
               "xargs sh -c")
    xt = timed(["xargs", "-P2", "-n1", "/bin/true"],
               b"".join(b"x\n" for _ in range(n)), 600, "xargs /bin/true")
    return n / shell_s, n / xs, n / true_s, n / xt


def echo_server(addr, key, ready):
    with Listener(addr, authkey=key) as ln:
        ready.set()
        with ln.accept() as c:
            while True:
                try:
                    req = json.loads(c.recv_bytes())
                except EOFError:
                    return
                c.send_bytes(json.dumps({"ok": True, "id": "0" * 16,
                                         "job": {"result": req["data"]}})
                             .encode())


def round_trips(c, n):
    t0 = time.perf_counter()
    for i in range(n):
        c.send_bytes(json.dumps({"op": "submit", "pool": "echo", "data": i,
                                 "wait": True, "timeout": 30}).encode())
        r = json.loads(c.recv_bytes())
        if not r.get("ok") or r["job"]["result"] != i:
            raise R.BenchError("round trip %d: %s" % (i, str(r)[:200]))
    return (time.perf_counter() - t0) / n * 1e6


def step_round_trip(args, workdir, n):
    """Microseconds per submit+wait, and per echo from a bare Listener."""
    sv = R.Supervisor(args, workdir, "rtt",
                      {"echo": R.echo_pool(args, 2, 1, 1000)})
    try:
        sv.start(2)
        c = Client(sv.sock, authkey=open(sv.keyfile, "rb").read().strip())
        round_trips(c, 200)
        mpsup_us = round_trips(c, n)
        c.close()
    finally:
        sv.stop()
    addr = os.path.join(workdir, "echo.sock")
    key = os.urandom(32)
    ready = threading.Event()
    t = threading.Thread(target=echo_server, args=(addr, key, ready),
                         daemon=True)
    t.start()
    ready.wait(10)
    c = Client(addr, authkey=key)
    base_us = round_trips(c, n)
    c.close()
    t.join(10)
    return mpsup_us, base_us


def step_cli_stream(args, workdir, n):
    """Jobs/s of `seq N | mpsup submit --stdin -w` on 2 C echo workers."""
    sv = R.Supervisor(args, workdir, "cli-stream",
                      {"echo": R.echo_pool(args, 2, args.best_prefetch,
                                           n + 1000)})
    data = b"".join(b"%d\n" % i for i in range(n))
    try:
        sv.start(2)
        dt = timed([args.mpsup, "submit", "-a", "unix:" + sv.sock, "-k",
                    sv.keyfile, "-p", "echo", "--stdin", "-w"], data, 600,
                   "mpsup submit --stdin -w")
        done = sv.pools()["echo"]["jobs"]["done"]
        if done != n:
            raise R.BenchError("cli stream: %d of %d jobs done" % (done, n))
    finally:
        sv.stop()
    return n / dt
