#!/usr/bin/env python3
"""Where a restart's and a cold start's milliseconds go, from the kernel's
own timestamps (ftrace). Needs root and tracefs; not part of `make bench`.

  bench/trace_restart.py [--kills N] [--mpsup PATH] [--echo-worker PATH]

Restart: the setup of `make bench` (101 echo workers, restart_delay = 0);
each worker in turn is killed with SIGKILL and the replacement's exec is
waited for, as bench_ops.step_restart does (polling /proc), while ftrace
records the victim's exit, the SIGCHLD, the supervisor's wake-up, its
clone, the child's exec, the end of the loop turn and every context
switch. Printed: the median of each segment over N kills, wall clock,
then the time the supervisor, the victim and the replacement each spent
on a CPU in some of them: on a busy machine the wall-clock segments are
mostly waits for a CPU, the time on a CPU is what each task costs.

Cold start: `mpsup -c` with 100 echo workers, nobody polling; printed:
exec of mpsup to its listen(), the spawns (first clone to last return),
the median time inside one clone (the child's set-up and exec, the
parent blocked), the median time between clones (the supervisor's own
work per worker), and on a CPU: a child's from clone to exec (median),
the supervisor's over all the spawns.

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
    "syscalls/sys_exit_epoll_wait", "sched/sched_switch",
    "sched/sched_process_fork",
]
COLD_EVENTS = [
    "sched/sched_process_exec", "syscalls/sys_enter_clone",
    "syscalls/sys_exit_clone", "syscalls/sys_enter_listen",
    "sched/sched_switch", "sched/sched_process_fork",
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


class OnCpu:
    """Each task's time on a CPU so far, from sched_switch."""

    SWITCH = re.compile(r"sched_switch: .*prev_pid=(\d+) .*next_pid=(\d+)")

    def __init__(self):
        self.total = {}
        self.since = {}

    def event(self, t, ev):
        m = self.SWITCH.match(ev)
        if m:
            prev, nxt = int(m.group(1)), int(m.group(2))
            if prev in self.since:
                self.total[prev] = (self.total.get(prev, 0) +
                                    t - self.since.pop(prev))
            self.since[nxt] = t

    def at(self, pid, t):
        """pid's time on a CPU up to t (t: the event being read)."""
        run = t - self.since[pid] if pid in self.since else 0
        return self.total.get(pid, 0) + run


# Wall-clock segments (from, to, name), then time on a CPU: (task, from,
# to, name), the task being the supervisor ("sv"), the victim or the
# replacement ("new"): what each spent running, whatever else the
# machine's CPUs were doing meanwhile.
WALL = [("kill", "exit", "kill -> victim's exit"),
        ("exit", "sigchld", "exit -> SIGCHLD sent"),
        ("sigchld", "run", "SIGCHLD -> supervisor running"),
        ("run", "clone", "supervisor running -> clone"),
        ("clone", "exec", "clone -> child's exec"),
        ("clone", "ret", "clone -> clone returns"),
        ("ret", "idle", "clone returns -> loop idle"),
        ("kill", "exec", "kill -> replacement exec'd"),
        ("kill", "seen", "kill -> seen by the poll")]
ONCPU = [("victim", "kill", "sigchld", "victim, kill -> SIGCHLD"),
         ("sv", "exit", "sigchld", "supervisor, exit -> SIGCHLD"),
         ("sv", "run", "clone", "supervisor, running -> clone"),
         ("new", "clone", "exec", "replacement, clone -> exec"),
         ("sv", "ret", "idle", "supervisor, clone returns -> idle")]


def restart_mark(cur, key, t, cpu, spid):
    """Note when key happened, and the tasks' time on a CPU then."""
    if key in cur:
        return
    cur[key] = t
    cur["cpu_" + key] = {"sv": cpu.at(spid, t),
                         "victim": cpu.at(cur["victim"], t)}
    if "new" in cur:
        cur["cpu_" + key]["new"] = cpu.at(cur["new"], t)


def restart_kills(text, spid):
    """One dict per kill: when each step happened, from a restart trace."""
    kills, cur, cpu = [], None, OnCpu()
    for pid, t, ev in events(text):
        cpu.event(t, ev)
        if ev.startswith("tracing_mark_write: KILL"):
            cur = {"victim": int(ev.split()[-1])}
            kills.append(cur)
            restart_mark(cur, "kill", t, cpu, spid)
        elif cur is None:
            continue
        elif ev.startswith("tracing_mark_write: SEEN"):
            restart_mark(cur, "seen", t, cpu, spid)
        elif (ev.startswith("sched_process_exit") and
              " pid=%d " % cur["victim"] in ev):
            restart_mark(cur, "exit", t, cpu, spid)
        elif (ev.startswith("signal_generate: sig=17") and
              " pid=%d " % spid in ev and "exit" in cur):
            restart_mark(cur, "sigchld", t, cpu, spid)
        elif (ev.startswith("sched_process_fork") and
              "clone" in cur and " pid=%d " % spid in ev and
              "new" not in cur):
            cur["new"] = int(re.search(r"child_pid=(\d+)", ev).group(1))
            cur["cpu_clone"]["new"] = 0
        elif (ev.startswith("sched_process_exec") and "new" in cur and
              " pid=%d " % cur["new"] in ev):
            restart_mark(cur, "exec", t, cpu, spid)
        elif pid != spid:
            continue
        elif "sigchld" in cur and ev.startswith("sys_epoll_wait ->"):
            restart_mark(cur, "run", t, cpu, spid)
        elif "run" in cur and ev.startswith("sys_clone("):
            restart_mark(cur, "clone", t, cpu, spid)
        elif "clone" in cur and ev.startswith("sys_clone ->"):
            restart_mark(cur, "ret", t, cpu, spid)
        elif "ret" in cur and ev.startswith("sys_epoll_wait("):
            restart_mark(cur, "idle", t, cpu, spid)
    return kills


def restart_segments(text, spid):
    """{segment: [seconds]} from a restart trace, and how many kills
    have every step."""
    kills = restart_kills(text, spid)
    segs = {n[2]: [] for n in WALL}
    segs.update({"on a CPU: " + n[3]: [] for n in ONCPU})
    whole = 0
    for k in kills:
        whole += all(a in k and b in k for a, b, _ in WALL)
        for a, b, name in WALL:
            if a in k and b in k:
                segs[name].append(k[b] - k[a])
        for task, a, b, name in ONCPU:
            if a in k and b in k and task in k["cpu_" + b] and \
                    task in k["cpu_" + a]:
                segs["on a CPU: " + name].append(
                    k["cpu_" + b][task] - k["cpu_" + a][task])
    return segs, whole, len(kills)


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
    segs, whole, n = restart_segments(text, spid)
    print("restart, %d kills, %d with every step traced (load %s); "
          "medians over the kills that have a segment's two ends:" % (
              n, whole, open("/proc/loadavg").read().split()[0]))
    for name, v in segs.items():
        if v:
            print("  %-44s %7.0f us  (min %6.0f, max %7.0f, n %d)" % (
                name, statistics.median(v) * 1e6, min(v) * 1e6,
                max(v) * 1e6, len(v)))


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
    enters, exits, kids, kid_cpu, sv_cpu = [], [], set(), [], []
    cpu = OnCpu()
    for pid, t, ev in events(text):
        cpu.event(t, ev)
        if spid is None and ev.startswith("sched_process_exec:") and \
                ev.split()[1] == "filename=" + args.mpsup:
            spid, sv_exec = pid, t
        elif ev.startswith("sched_process_exec:") and pid in kids:
            kid_cpu.append(cpu.at(pid, t))
        elif pid != spid:
            continue
        elif ev.startswith("sched_process_fork"):
            kids.add(int(re.search(r"child_pid=(\d+)", ev).group(1)))
        elif ev.startswith("sys_listen("):
            listen = t
        elif ev.startswith("sys_clone("):
            enters.append(t)
            if len(enters) == 1:
                sv_cpu = [cpu.at(spid, t)]
        elif ev.startswith("sys_clone ->"):
            exits.append(t)
            if len(exits) == n:
                sv_cpu.append(cpu.at(spid, t))
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
    print("  %-34s %7.0f us median" % ("a child on a CPU, clone -> exec",
                                       statistics.median(kid_cpu) * 1e6))
    print("  %-34s %7.1f ms" % ("supervisor on a CPU, the spawns",
                                (sv_cpu[-1] - sv_cpu[0]) * 1e3))


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
