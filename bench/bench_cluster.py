"""The cluster rows of `make bench` (bench/run.py imports this file).

One private redis-server per row (tests/integration/redisd.py, loaded by
path: a unix socket in a temp dir, `appendonly no`, `save ""`: no disk on
the throughput rows), then, in the same run and side by side:

  - "cluster N nodes", N = 1, 2, 3: N supervisors on this machine, each
    with its own config (listen socket, status port, node name), the same
    `cluster` URL (Redis's unix socket) and the same pool "echo" (2
    examples/echo_worker, prefetch 256); bench_e2e submits and waits
    through node A only, so the other nodes take work from the stream;
  - "memory store": the same pool on one supervisor without `cluster`;
  - "redis XADD pipelined": redis-benchmark's XADD rate on a fresh server
    (what one Redis can take when every round trip carries 64 commands).

Nothing may be lost: bench_e2e checks every record it waits for (state
done, result = data, one per job); after each cluster row the nodes'
workers must have finished exactly as many jobs as node A accepted, node
A must count every one done, and the stream must be empty with nothing
pending. Any difference is a BenchError (make bench exits non-zero).

Each cluster row also prints where the CPU went (utime + stime from
/proc of redis-server, node A, the other nodes, all workers), how long
redis-server and node A were runnable but waited for a CPU (the run
delay of /proc/PID/schedstat: on a shared machine, a process that is
never idle shows it), and Redis's commands per job (INFO commandstats,
reset before the run).

--cluster-profile DIR reruns the 1-node and 3-node setups three times
more: once with `perf stat` on node A and on redis-server (user and
kernel instructions, task-clock in ms, context switches, per job; these
do not depend on the machine's load), once with `perf record -g` on both
(DIR/perf-Nnode-{node,redis}.data, with `perf report --stdio` text beside
them), once with `strace -c -f` on node A (DIR/strace-Nnode.txt). The
profiled runs' rates are not reported as rows (the profilers slow them).
"""

import importlib.util
import os
import re
import shutil
import signal
import subprocess
import time

import run
from run import BenchError, Supervisor, cpu_seconds, echo_pool, kv

NODES = (1, 2, 3)
XADD_N = 200000
XADD_P = 64
SETTLE = 10.0      # seconds for the last ends to reach Redis


def load_redisd(srcdir):
    """tests/integration/redisd.py as a module (it imports harness.py from
    its own folder)."""
    path = os.path.join(srcdir, "tests", "integration", "redisd.py")
    spec = importlib.util.spec_from_file_location("redisd", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def free_port():
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def commandstats(r):
    """{command: calls} from INFO commandstats."""
    out = {}
    for line in r.cmd("INFO", "commandstats").decode().splitlines():
        m = re.match(r"cmdstat_([^:]+):calls=(\d+),usec=(\d+)", line)
        if m:
            out[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    return out


def start_nodes(args, workdir, r, n, tag):
    nodes = []
    try:
        for i in range(n):
            name = "n%d" % i
            sv = Supervisor(args, workdir, "%s-%s" % (tag, name),
                            {"echo": echo_pool(args, 2, args.best_prefetch,
                                               1000000)},
                            {"cluster": r.unix_url, "node": name},
                            status="127.0.0.1:%d" % free_port())
            nodes.append(sv)
            sv.start(2)
        return nodes
    except BaseException:
        for sv in nodes:
            sv.stop()
        raise


def check_nothing_lost(r, nodes, client_jobs):
    """Every job node A accepted ran exactly once, somewhere, and ended
    done; Redis holds nothing queued or pending."""
    a = nodes[0].pools()["echo"]["jobs"]
    ran = 0
    for sv in nodes:
        for w in sv.pools()["echo"]["workers"]:
            ran += w["jobs_done"]
    if a["submitted"] < client_jobs or a["done"] != a["submitted"]:
        raise BenchError("node A: %d jobs accepted, %d done (client: %d)" % (
            a["submitted"], a["done"], client_jobs))
    if ran != a["submitted"]:
        raise BenchError("workers of all nodes finished %d jobs, node A "
                         "accepted %d" % (ran, a["submitted"]))
    # The nodes send their last ends to Redis after the client had its
    # answers: give them a moment.
    stream = "mpsup:{echo}:q"
    deadline = time.monotonic() + SETTLE
    while True:
        left = r.cmd("XLEN", stream)
        pending = r.cmd("XPENDING", stream, "mpsup")[0]
        if not left and not pending:
            return ran
        if time.monotonic() > deadline:
            raise BenchError("%gs after the run the stream still holds %d "
                             "entries, %d of them pending" % (
                                 SETTLE, left, pending))
        time.sleep(0.05)


class Profilers:
    """perf record -g of node A and redis-server, or strace -c of node A."""

    def __init__(self, kind, outdir, tag, sv_pid, redis_pid):
        self.procs = []
        if kind == "perf":
            for who, pid in (("node", sv_pid), ("redis", redis_pid)):
                out = os.path.join(outdir, "perf-%s-%s.data" % (tag, who))
                self.procs.append(self._spawn(
                    ["perf", "record", "-g", "-o", out, "-p", str(pid)]))
        elif kind == "stat":
            for who, pid in (("node", sv_pid), ("redis", redis_pid)):
                out = os.path.join(outdir, "stat-%s-%s.txt" % (tag, who))
                self.procs.append(self._spawn(
                    ["perf", "stat", "-e", "instructions:u,instructions:k,"
                     "task-clock,context-switches", "-x,", "-o", out,
                     "-p", str(pid)]))
        else:
            out = os.path.join(outdir, "strace-%s.txt" % tag)
            self.procs.append(self._spawn(
                ["strace", "-c", "-f", "-o", out, "-p", str(sv_pid)]))
        time.sleep(0.5)

    @staticmethod
    def _spawn(argv):
        return subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL,
                                start_new_session=True)

    def stop(self):
        for p in self.procs:
            try:
                os.killpg(p.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
        for p in self.procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def run_delay(pid):
    """Seconds the process spent runnable but waiting for a CPU (the
    second field of /proc/PID/schedstat), or 0 if the kernel has none."""
    try:
        with open("/proc/%d/schedstat" % pid) as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def cpu_of(r, nodes):
    """(redis, node A, other nodes, workers) CPU seconds so far, then the
    seconds redis-server and node A waited for a CPU."""
    others = sum(cpu_seconds(sv.proc.pid) or 0.0 for sv in nodes[1:])
    workers = sum(sv.cpu()[1] for sv in nodes)
    return (cpu_seconds(r.pid), cpu_seconds(nodes[0].proc.pid), others,
            workers, run_delay(r.pid), run_delay(nodes[0].proc.pid))


def cluster_run(args, workdir, redisd, n, tag, profile=None):
    """One cluster measurement with n nodes; a dict of results."""
    with redisd.Redisd(workdir) as r:
        nodes = start_nodes(args, workdir, r, n, tag)
        try:
            for sv in nodes:
                sv.pools()      # learn the worker pids
            r.cmd("CONFIG", "RESETSTAT")
            prof = None
            if profile is not None:
                prof = Profilers(profile[0], profile[1], "%dnode" % n,
                                 nodes[0].proc.pid, r.pid)
            cpu0 = cpu_of(r, nodes)
            try:
                out = run.run_program(
                    [args.bench_e2e, "-a", "unix:" + nodes[0].sock,
                     "-k", nodes[0].keyfile, "-p", "echo",
                     "-n", str(args.cluster_jobs), "-b", str(args.batch),
                     "-w", str(args.window),
                     "-t", str(args.cluster_seconds)],
                    args.cluster_seconds + 300, "bench_e2e (%s)" % tag)
            finally:
                if prof is not None:
                    prof.stop()
            cpu1 = cpu_of(r, nodes)
            res = {k: float(v) for k, v in kv(out.strip().splitlines()[-1],
                                              "bench_e2e").items()
                   if k != "mode"}
            res["accepted"] = check_nothing_lost(r, nodes, res["jobs"])
            res["cpu"] = [b - a for a, b in zip(cpu0, cpu1)]
            res["cmds"] = commandstats(r)
        finally:
            for sv in nodes:
                sv.stop()
    return res


def memory_run(args, workdir):
    sv = Supervisor(args, workdir, "cl-memory",
                    {"echo": echo_pool(args, 2, args.best_prefetch,
                                       1000000)}, {"store": "memory"})
    try:
        sv.start(2)
        saved = args.jobs, args.seconds
        args.jobs, args.seconds = args.cluster_jobs, args.cluster_seconds
        try:
            return run.bench_e2e_run(args, sv, args.best_prefetch, None)
        finally:
            args.jobs, args.seconds = saved
    finally:
        sv.stop()


def xadd_run(args, workdir, redisd):
    """redis-benchmark's pipelined XADD rate; every entry must be there."""
    with redisd.Redisd(workdir) as r:
        out = run.run_program(
            ["redis-benchmark", "-s", r.sock, "-n", str(XADD_N),
             "-P", str(XADD_P), "-q", "XADD", "bench", "*", "j", "x"],
            300, "redis-benchmark")
        m = re.search(r"([0-9.]+) requests per second", out)
        if m is None:
            raise BenchError("redis-benchmark: unexpected output %r" % out)
        n = r.cmd("XLEN", "bench")
        if n != XADD_N:
            raise BenchError("redis-benchmark: %d XADDs, the stream holds "
                             "%d" % (XADD_N, n))
        return float(m.group(1))


def per_job(res):
    """'evalsha 0.01, hset 5.00, ...' (calls per job, largest first)."""
    jobs = res["accepted"]
    items = sorted(res["cmds"].items(), key=lambda item: -item[1][0])
    return ", ".join("%s %.2f" % (k, c / jobs) for k, (c, _) in items
                     if c / jobs >= 0.005)


def describe(res, n):
    red, a, others, workers, red_wait, a_wait = res["cpu"]
    total_calls = sum(c for k, (c, _) in res["cmds"].items())
    evalsha_us = res["cmds"].get("evalsha", (0, 0))[1]
    line = ("    CPU in %.2f s: redis-server %.2f s, node A %.2f s" % (
        res["seconds"], red, a))
    if n > 1:
        line += ", other nodes %.2f s" % others
    line += ", workers %.2f s" % workers
    line += ("\n    waiting for a CPU (runnable, not running): redis-server "
             "%.2f s, node A %.2f s (load average %.1f)" % (
                 red_wait, a_wait, os.getloadavg()[0]))
    line += "\n    per job: redis-server %.1f us CPU, node A %.1f us" % (
        red * 1e6 / res["accepted"], a * 1e6 / res["accepted"])
    line += ("\n    redis: %.1f commands per job (%.1f us/job in scripts); "
             "per job: %s" % (total_calls / res["accepted"],
                              evalsha_us / res["accepted"], per_job(res)))
    return line


def step_cluster(args, workdir):
    """Rows [(name, jobs/s, ratio to memory, detail)], all from this run."""
    redisd = load_redisd(args.srcdir)
    if not os.access(redisd.REDIS_SERVER, os.X_OK):
        raise BenchError("%s is missing: apt-get install redis-server "
                         "(redis-tools for redis-benchmark)"
                         % redisd.REDIS_SERVER)
    if shutil.which("redis-benchmark") is None:
        raise BenchError("redis-benchmark is missing: apt-get install "
                         "redis-tools")
    if args.cluster_profile:
        for tool in ("perf", "strace"):
            if shutil.which(tool) is None:
                raise BenchError("--cluster-profile needs %s (apt-get "
                                 "install %s)" % (tool, "linux-perf"
                                                  if tool == "perf"
                                                  else tool))
    results = {}
    for n in NODES:
        res = cluster_run(args, workdir, redisd, n, "cl%d" % n)
        results[n] = res
        print("  cluster %d node%s %9.0f jobs/s  (%d jobs)" % (
            n, "" if n == 1 else "s", res["jobs_per_s"], res["accepted"]),
            flush=True)
        print(describe(res, n), flush=True)
    mem = memory_run(args, workdir)
    print("  memory store   %9.0f jobs/s" % mem["jobs_per_s"], flush=True)
    xadd = xadd_run(args, workdir, redisd)
    print("  redis XADD pipelined %9.0f/s" % xadd, flush=True)
    if args.cluster_profile:
        os.makedirs(args.cluster_profile, exist_ok=True)
        for n in (1, 3):
            for kind in ("stat", "perf", "strace"):
                print("  profiling %d node%s (%s) ..." % (
                    n, "" if n == 1 else "s", kind), flush=True)
                res = cluster_run(args, workdir, redisd, n,
                                  "prof-%s%d" % (kind, n),
                                  (kind, args.cluster_profile))
                print("    (%s: %.0f jobs/s, %d jobs)" % (
                    kind, res["jobs_per_s"], res["accepted"]))
                if kind == "stat":
                    print(stat_per_job(args.cluster_profile, "%dnode" % n,
                                       res["accepted"]), flush=True)
        perf_reports(args.cluster_profile)
    rate = mem["jobs_per_s"]
    rows = []
    for n in NODES:
        res = results[n]
        rows.append(("cluster %d node%s" % (n, "" if n == 1 else "s"),
                     res["jobs_per_s"], res["jobs_per_s"] / rate,
                     "%d jobs, redis-server %.2f s CPU, node A %.2f s" % (
                         res["accepted"], res["cpu"][0], res["cpu"][1])))
    rows.append(("memory store", rate, 1.0, "%d jobs, supervisor %.2f s "
                 "CPU" % (mem["jobs"], mem["sv_cpu"])))
    rows.append(("redis XADD pipelined", xadd, xadd / rate,
                 "redis-benchmark -n %d -P %d (commands/s, no jobs)" % (
                     XADD_N, XADD_P)))
    return rows


def stat_per_job(outdir, tag, jobs):
    """perf stat's counts per job, node A and redis-server."""
    lines = []
    for who in ("node", "redis"):
        counts = {}
        with open(os.path.join(outdir, "stat-%s-%s.txt" % (tag, who))) as f:
            for line in f:
                parts = line.strip().split(",")
                if len(parts) > 2 and parts[0].replace(".", "").isdigit():
                    counts[parts[2]] = float(parts[0])
        # task-clock is in ms; instructions are absent on machines whose
        # PMU perf cannot reach (virtual machines, often).
        shown = []
        for k, v in counts.items():
            if k == "task-clock":
                shown.append("CPU %.1f us" % (v * 1000 / jobs))
            else:
                shown.append("%s %.3f" % (k, v / jobs))
        lines.append("    %-5s per job: %s" % (who, ", ".join(shown)))
    return "\n".join(lines)


def perf_reports(outdir):
    """perf report --stdio text beside each perf-*.data."""
    for name in sorted(os.listdir(outdir)):
        if not (name.startswith("perf-") and name.endswith(".data")):
            continue
        path = os.path.join(outdir, name)
        with open(path[:-5] + ".txt", "w") as f:
            subprocess.run(["perf", "report", "--stdio", "--no-children",
                            "--percent-limit", "0.5", "-g", "none",
                            "-i", path], stdout=f,
                           stderr=subprocess.DEVNULL, timeout=600)


def print_rows(rows, prefetch):
    print("%-24s %12s %10s  %s" % ("cluster (one Redis)", "jobs/s",
                                   "vs memory", "same run"))
    for name, rate, ratio, detail in rows:
        print("%-24s %12.0f %9.2fx  %s" % (name, rate, ratio, detail))
    print("(a private redis-server per row on its unix socket, appendonly "
          "no, no RDB; 2 echo workers, prefetch %s, per node; every job "
          "submitted and waited for through node A)" % prefetch)
