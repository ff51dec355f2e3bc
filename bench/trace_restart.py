#!/usr/bin/env python3
"""Where a restart's and a cold start's milliseconds go, from the kernel's
own timestamps (ftrace). Needs root and tracefs; not part of `make bench`.

  bench/trace_restart.py [--kills N] [--mpsup PATH] [--echo-worker PATH]

Restart: the setup of `make bench` (101 echo workers, restart_delay = 0);
each worker in turn is killed with SIGKILL and the replacement's exec is
waited for, as bench_ops.step_restart does (polling /proc), while ftrace
records the victim's exit, the SIGCHLD, the supervisor's wake-up, its
clone, the child's exec and the end of the loop turn. Printed: the
median of each segment over N kills.

Cold start: `mpsup -c` with 100 echo workers, nobody polling; printed:
exec of mpsup to its listen(), the spawns (first clone to last return),
the median time inside one clone (the child's set-up and exec, the
parent blocked), the median time between clones (the supervisor's own
work per worker).

Figures taken with the machine busy are the machine's: compare binaries
in turns, with the load average beside them. Tracing costs a little on
every event; the segments, not the totals, are what this is for.
"""

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run as R  # noqa: E402
sys.modules.setdefault("run", R)
import bench_ops as ops  # noqa: E402

TRACEFS = "/sys/kernel/tracing"
RESTART_EVENTS = [
    "sched/sched_process_exit", "sched/sched_process_exec",
    "signal/signal_generate", "syscalls/sys_enter_clone",
    "syscalls/sys_exit_clone", "syscalls/sys_enter_epoll_wait",
    "syscalls/sys_exit_epoll_wait",
]
COLD_EVENTS = [
    "sched/sched_process_exec", "syscalls/sys_enter_clone",
    "syscalls/sys_exit_clone", "syscalls/sys_enter_listen",
]
LINE = re.compile(r"-(\d+)\s+\[\d+\]\s+\S+\s+(\d+\.\d+): (.*)")


class Trace:
    """A tracefs instance of our own, removed on the way out."""

    def __init__(self, events):
        self.dir = os.path.join(TRACEFS, "instances",
                                "mpsup-bench-%d" % os.getpid())
        os.mkdir(self.dir)
        self.events = events
        self.write("buffer_size_kb", "16384")
        for e in events:
            self.write("events/%s/enable" % e, "1")
        self.marker = open(os.path.join(self.dir, "trace_marker"), "w")

    def write(self, name, text):
        with open(os.path.join(self.dir, name), "w") as f:
            f.write(text)

    def mark(self, text):
        self.marker.write(text + "\n")
        self.marker.flush()

    def on(self):
        self.write("tracing_on", "1")

    def text(self):
        self.write("tracing_on", "0")
        with open(os.path.join(self.dir, "trace")) as f:
            return f.read()

    def close(self):
        self.marker.close()
        self.write("tracing_on", "0")
        for e in self.events:
            self.write("events/%s/enable" % e, "0")
        os.rmdir(self.dir)


def events(text):
    for line in text.splitlines():
        m = LINE.search(line)
        if m:
            yield int(m.group(1)), float(m.group(2)), m.group(3)


def restart_segments(text, spid):
    """{segment: [seconds]} from a restart trace."""
    execs = {}
    for pid, t, ev in events(text):
        m = re.match(r"sched_process_exec: .* pid=(\d+) ", ev)
        if m:
            execs[int(m.group(1))] = t
    names = [("kill", "exit", "kill -> victim's exit"),
             ("exit", "sigchld", "exit -> SIGCHLD sent"),
             ("sigchld", "run", "SIGCHLD -> supervisor running"),
             ("run", "clone", "supervisor running -> clone"),
             ("clone", "exec", "clone -> child's exec"),
             ("clone", "ret", "clone -> clone returns"),
             ("ret", "idle", "clone returns -> loop idle"),
             ("kill", "exec", "kill -> replacement exec'd"),
             ("kill", "seen", "kill -> seen by the poll")]
    segs = {n[2]: [] for n in names}
    cur = None
    for pid, t, ev in events(text):
        if ev.startswith("tracing_mark_write: KILL"):
            cur = {"kill": t, "victim": int(ev.split()[-1])}
        elif cur is None:
            continue
        elif ev.startswith("tracing_mark_write: SEEN"):
            new = int(ev.split()[-1])
            if new in execs:
                cur["exec"] = execs[new]
            cur["seen"] = t
            if all(a in cur and b in cur for a, b, _ in names):
                for a, b, name in names:
                    segs[name].append(cur[b] - cur[a])
            cur = None
        elif (ev.startswith("sched_process_exit") and
              " pid=%d " % cur["victim"] in ev):
            cur["exit"] = t
        elif (ev.startswith("signal_generate: sig=17") and
              " pid=%d " % spid in ev and "exit" in cur and
              "sigchld" not in cur):
            cur["sigchld"] = t
        elif pid != spid:
            continue
        elif ("sigchld" in cur and "run" not in cur and
              ev.startswith("sys_epoll_wait ->")):
            cur["run"] = t
        elif ("run" in cur and "clone" not in cur and
              ev.startswith("sys_clone(")):
            cur["clone"] = t
        elif ("clone" in cur and "ret" not in cur and
              ev.startswith("sys_clone ->")):
            cur["ret"] = t
        elif ("ret" in cur and "idle" not in cur and
              ev.startswith("sys_epoll_wait(")):
            cur["idle"] = t
    return segs


def trace_restart(args, workdir):
    sv = R.Supervisor(args, workdir, "restart",
                      {"w": dict(R.echo_pool(args, 101, 1, 1000),
                                 restart_delay=0)})
    binary = os.path.realpath(args.echo_worker)
    tr = None
    try:
        sv.start(101, timeout=120)
        tr = Trace(RESTART_EVENTS)
        tr.on()
        spid = sv.proc.pid
        for _ in range(args.kills):
            known = ops.children(spid)
            victim = min(known)
            tr.mark("KILL %d" % victim)
            os.kill(victim, signal.SIGKILL)
            pid = ops.wait_new_exec(spid, known, binary)
            tr.mark("SEEN %d" % pid)
            sv.worker_pids.add(pid)
            time.sleep(0.05)
        text = tr.text()
    finally:
        if tr is not None:
            tr.close()
        sv.stop()
    segs = restart_segments(text, spid)
    n = len(next(iter(segs.values())))
    print("restart, %d of %d kills traced whole (load %s):" % (
        n, args.kills, open("/proc/loadavg").read().split()[0]))
    for name, v in segs.items():
        if v:
            print("  %-34s median %7.0f us  (min %6.0f, max %7.0f)" % (
                name, statistics.median(v) * 1e6, min(v) * 1e6,
                max(v) * 1e6))


def trace_cold(args, workdir, n=100):
    sv = R.Supervisor(args, workdir, "cold",
                      {"w": R.echo_pool(args, n, 1, 1000)})
    tr = Trace(COLD_EVENTS)
    try:
        tr.on()
        sv.proc = subprocess.Popen([args.mpsup, "-c", sv.ini],
                                   stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL,
                                   stdin=subprocess.DEVNULL, cwd=sv.dir,
                                   start_new_session=True)
        deadline = time.monotonic() + 60
        while len(ops.children(sv.proc.pid)) < n:
            if time.monotonic() > deadline or sv.proc.poll() is not None:
                raise R.BenchError("cold start: workers did not come up")
            time.sleep(0.1)
        time.sleep(0.2)
        sv.worker_pids |= ops.children(sv.proc.pid)
        text = tr.text()
    finally:
        tr.close()
        sv.stop()
    spid = sv_exec = listen = None
    enters, exits = [], []
    for pid, t, ev in events(text):
        if spid is None and ev.startswith("sched_process_exec:") and \
                ev.split()[1] == "filename=" + args.mpsup:
            spid, sv_exec = pid, t
        elif pid != spid:
            continue
        elif ev.startswith("sys_listen("):
            listen = t
        elif ev.startswith("sys_clone("):
            enters.append(t)
        elif ev.startswith("sys_clone ->"):
            exits.append(t)
    if spid is None or listen is None or len(exits) < n:
        raise R.BenchError("cold start: the trace misses events")
    inside = [b - a for a, b in zip(enters, exits)]
    between = [b - a for a, b in zip(exits, enters[1:])]
    print("cold start of %d workers (load %s):" % (
        n, open("/proc/loadavg").read().split()[0]))
    print("  %-34s %7.1f ms" % ("exec of mpsup -> listen()",
                                (listen - sv_exec) * 1e3))
    print("  %-34s %7.1f ms" % ("first clone -> last clone returns",
                                (exits[n - 1] - enters[0]) * 1e3))
    print("  %-34s %7.0f us median" % ("inside one clone",
                                       statistics.median(inside) * 1e6))
    print("  %-34s %7.0f us median" % ("between clones (supervisor)",
                                       statistics.median(between) * 1e6))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--builddir", default=os.path.join(HERE, ".."))
    ap.add_argument("--kills", type=int, default=30)
    ap.add_argument("--mpsup")
    ap.add_argument("--echo-worker")
    args = ap.parse_args()
    b = os.path.abspath(args.builddir)
    args.mpsup = os.path.abspath(args.mpsup or os.path.join(b, "mpsup"))
    args.echo_worker = os.path.abspath(
        args.echo_worker or os.path.join(b, "examples", "echo_worker"))
    if not os.access(os.path.join(TRACEFS, "instances"), os.W_OK):
        sys.exit("trace_restart: needs root and tracefs at %s" % TRACEFS)
    for p in (args.mpsup, args.echo_worker):
        if not os.path.exists(p):
            sys.exit("trace_restart: %s is missing (make mpsup "
                     "examples/echo_worker)" % p)
    workdir = tempfile.mkdtemp(prefix="mpsup-trace.")
    try:
        trace_restart(args, workdir)
        trace_cold(args, workdir)
    except R.BenchError as e:
        sys.exit("trace_restart: %s" % e)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
