#!/usr/bin/env python3
"""`make bench`: mpsup's throughput and memory beside baselines measured in
the same run. Standard library only.

  1. end to end: a stream pool of 2 C echo workers (examples/echo_worker),
     bench_e2e keeping a window of submit_many batches with "wait":true in
     flight and verifying every record; jobs/s and microseconds per job,
     with the CPU time the supervisor, the workers and the client spent;
     then the same with every job in one of 100 groups and a priority
     from -3 to 3 (bench_e2e -g 100);
  2. baselines: the raw pipe round trip of this machine, one message and
     batched (bench_pipe), and multiprocessing.Pool(2).imap(f, range(N),
     chunksize=1) with a trivial f (bench_mp.py);
  3. the supervisor's RSS with 100 idle echo workers;
  4. bytes per queued job: RSS of a supervisor whose pool is paused, before
     and after 1,000,000 jobs are queued;
  5. the job store side by side: acknowledged submits/s (bench_e2e -W into
     a paused pool) and end-to-end jobs/s with store = memory,
     sqlite (store_sync = normal) and sqlite (store_sync = full), the
     end-to-end runs alternated over --store-rounds rounds (medians);
  6. operations (bench_ops.py): restart latency, cold start, exec jobs
     against xargs, one client's submit+wait round trip against a bare
     Listener, and stream jobs through the CLI.
  7. the Python module beside the standard library, 2 workers each
     (bench_py.py): Pool.map(sqr, range(10**6)) and
     Pool.imap(sqr, range(10**5), chunksize=1) against
     multiprocessing.Pool(2), Executor.submit round trips against
     concurrent.futures.ProcessPoolExecutor(2).

Every process started here runs in its own session and is killed (by
process group) on the way out, pass or fail; every step has a timeout.

Prefetch: a stream worker gets up to `prefetch` jobs written ahead. With
one job in flight per worker the supervisor pays a pipe round trip and
two wake-ups per job; with a deep prefetch the job lines and result lines
move in large reads and writes. `--prefetch 1,16,64,256,1024` sweeps and
the best value is reported (the default is what won on the 2-core CI
machines: see the comment at DEFAULT_PREFETCH).
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from multiprocessing.connection import Client

# Measured with --prefetch 1,16,64,256,1024 (2 cores, Debian 12, batch
# 1000-2000, window 4): 1 is round-trip bound (~63k jobs/s, the workers
# burn as much CPU as the supervisor); 16 ~168k; 64 and 256 are within
# noise of each other (~190-235k) with 256 ahead in most runs; 1024 drops
# to ~105k because whole batches then move as one burst per worker and the
# supervisor and the workers stop overlapping.
DEFAULT_PREFETCH = "256"

CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    pass


class Deadline:
    """Bound a blocking section (a Python client call) with SIGALRM."""

    def __init__(self, seconds, what):
        self.seconds = seconds
        self.what = what

    def _fire(self, signum, frame):
        raise BenchError("timed out after %ss: %s" % (self.seconds, self.what))

    def __enter__(self):
        self.old = signal.signal(signal.SIGALRM, self._fire)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def __exit__(self, *exc):
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self.old)
        return False


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise BenchError("no VmRSS for pid %d" % pid)


def cpu_seconds(pid):
    """utime + stime of a live process, or None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def kv(line, prefix):
    """Parse 'prefix: k=v k=v' into a dict of strings."""
    if not line.startswith(prefix + ":"):
        raise BenchError("unexpected output: %r" % line)
    return dict(item.split("=", 1) for item in line.split()[1:])


def run_program(argv, timeout, what):
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True,
                           timeout=timeout, start_new_session=True)
    except subprocess.TimeoutExpired:
        # subprocess.run killed the child itself; its own children (the
        # pipe echoer, the Pool's workers) die with their pipes closed.
        raise BenchError("%s: timed out after %ss" % (what, timeout))
    if p.returncode != 0:
        raise BenchError("%s failed (exit %d): %s" % (what, p.returncode,
                                                      p.stderr.strip()))
    return p.stdout


def quote_word(s):
    if all(c.isalnum() or c in "/._-+,:=" for c in s):
        return s
    return "'" + s.replace("'", "'\\''") + "'"


class Supervisor:
    """One mpsup in a temp dir, with helpers to query it and to kill it."""

    def __init__(self, args, workdir, name, pools, settings=None,
                 status=""):
        self.args = args
        self.dir = os.path.join(workdir, name)
        os.mkdir(self.dir)
        self.sock = os.path.join(self.dir, "mpsup.sock")
        self.keyfile = os.path.join(self.dir, "authkey")
        self.logfile = os.path.join(self.dir, "mpsup.log")
        self.ini = os.path.join(self.dir, "pool.ini")
        self.proc = None
        self.worker_pids = set()
        text = ("[supervisor]\n"
                "listen = unix:%s\n"
                "authkey_file = authkey\n"
                "legacy_md5 = yes\n"
                "status = %s\n"
                "log = mpsup.log\n" % (quote_word(self.sock), status))
        for k, v in (settings or {}).items():
            text += "%s = %s\n" % (k, v)
        for pool, keys in pools.items():
            keys = dict(keys)
            text += "\n[pool:%s]\ntype = %s\n" % (pool,
                                                  keys.pop("type", "stream"))
            for k, v in keys.items():
                text += "%s = %s\n" % (k, v)
        with open(self.ini, "w") as f:
            f.write(text)

    def start(self, workers, timeout=60):
        out = open(os.path.join(self.dir, "stdout.log"), "w")
        self.proc = subprocess.Popen([self.args.mpsup, "-c", self.ini],
                                     stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL,
                                     cwd=self.dir, start_new_session=True)
        out.close()
        deadline = time.monotonic() + timeout
        while not (os.path.exists(self.sock) and
                   os.path.exists(self.keyfile)):
            if self.proc.poll() is not None:
                raise BenchError("mpsup exited (%d) at start: %s" % (
                    self.proc.returncode, self.tail()))
            if time.monotonic() > deadline:
                raise BenchError("mpsup did not listen within %ss" % timeout)
            time.sleep(0.02)
        self.wait_idle(workers, deadline - time.monotonic())

    def tail(self):
        text = ""
        for name in ("stdout.log", "mpsup.log"):
            try:
                with open(os.path.join(self.dir, name)) as f:
                    text += f.read()[-2000:]
            except OSError:
                pass
        return text

    def request(self, req, timeout=30):
        with Deadline(timeout, "request %s" % req.get("op")):
            with open(self.keyfile, "rb") as f:
                key = f.read().strip()
            c = Client(self.sock, authkey=key)
            try:
                c.send_bytes(json.dumps(req).encode())
                reply = json.loads(c.recv_bytes())
            finally:
                c.close()
        if not reply.get("ok"):
            raise BenchError("%s: %s" % (req.get("op"), reply))
        return reply

    def pools(self):
        pools = self.request({"op": "status"})["status"]["pools"]
        for p in pools:
            for w in p.get("workers", []):
                if w.get("pid"):
                    self.worker_pids.add(w["pid"])
        return {p["name"]: p for p in pools}

    def wait_idle(self, workers, timeout):
        deadline = time.monotonic() + max(timeout, 1)
        while True:
            try:
                idle = sum(p["workers_idle"]
                           for p in self.pools().values())
            except ConnectionRefusedError:
                # The socket's file appears at bind(), a moment before
                # listen(): on a loaded machine that moment can be seen.
                idle = 0
            if idle >= workers:
                return
            if self.proc.poll() is not None:
                raise BenchError("mpsup exited: %s" % self.tail())
            if time.monotonic() > deadline:
                raise BenchError("only %d of %d workers idle" % (idle,
                                                                 workers))
            time.sleep(0.05)

    def cpu(self):
        """(supervisor, workers) CPU seconds so far."""
        workers = 0.0
        for pid in self.worker_pids:
            t = cpu_seconds(pid)
            if t is not None:
                workers += t
        return cpu_seconds(self.proc.pid), workers

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)
            except ProcessLookupError:
                pass
        # Workers have PR_SET_PDEATHSIG and their own process groups; kill
        # any that survived anyway, checking the pid still names one.
        deadline = time.monotonic() + 5
        names = {os.path.basename(self.args.echo_worker)[:15]}
        for pid in self.worker_pids:
            while comm(pid) in names and time.monotonic() < deadline:
                time.sleep(0.02)
            if comm(pid) in names:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.proc = None


def echo_pool(args, workers, prefetch, max_queue):
    return {"workers": workers, "prefetch": prefetch,
            "max_queue": max_queue,
            "command": quote_word(args.echo_worker)}


def bench_e2e_run(args, sv, prefetch, perf_file, groups=0):
    """One end-to-end measurement; a dict of the results."""
    idle_rss = rss_kib(sv.proc.pid)
    perf = None
    if perf_file:
        perf = subprocess.Popen(["perf", "record", "-g", "-o", perf_file,
                                 "-p", str(sv.proc.pid)],
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL,
                                start_new_session=True)
        time.sleep(0.5)
    sv_cpu0, w_cpu0 = sv.cpu()
    try:
        out = run_program([args.bench_e2e, "-a", "unix:" + sv.sock,
                           "-k", sv.keyfile, "-p", "echo",
                           "-n", str(args.jobs), "-b", str(args.batch),
                           "-w", str(args.window), "-t", str(args.seconds)] +
                          (["-g", str(groups)] if groups else []),
                          args.seconds + 120, "bench_e2e")
    finally:
        if perf is not None:
            os.killpg(perf.pid, signal.SIGINT)
            try:
                perf.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(perf.pid, signal.SIGKILL)
                perf.wait()
    sv_cpu1, w_cpu1 = sv.cpu()
    r = kv(out.strip().splitlines()[-1], "bench_e2e")
    res = {k: float(v) for k, v in r.items() if k != "mode"}
    res["prefetch"] = prefetch
    res["idle_rss_kib"] = idle_rss
    res["peak_rss_kib"] = rss_kib(sv.proc.pid)
    res["sv_cpu"] = sv_cpu1 - sv_cpu0
    res["workers_cpu"] = w_cpu1 - w_cpu0
    done = sv.pools()["echo"]["jobs"]["done"]
    if done < res["jobs"]:
        raise BenchError("supervisor counts %d jobs done, client %d" % (
            done, res["jobs"]))
    return res


def step_e2e(args, workdir):
    results = []
    for i, prefetch in enumerate(args.prefetch.split(",")):
        sv = Supervisor(args, workdir, "e2e-%s" % prefetch,
                        {"echo": echo_pool(args, 2, prefetch, 1000000)})
        try:
            sv.start(2)
            res = bench_e2e_run(args, sv, prefetch,
                                args.perf if i == 0 else None)
        finally:
            sv.stop()
        print("  prefetch %-5s %9.0f jobs/s  %6.3f us/job  supervisor "
              "%.2f s, workers %.2f s, client %.2f s CPU in %.2f s" % (
                  prefetch, res["jobs_per_s"], res["us_per_job"],
                  res["sv_cpu"], res["workers_cpu"], res["client_cpu_s"],
                  res["seconds"]), flush=True)
        results.append(res)
    return max(results, key=lambda r: r["jobs_per_s"])


def step_e2e_groups(args, workdir, prefetch):
    """The end-to-end run again, each job in one of 100 groups with a
    priority from -3 to 3: what fair turns and priority order cost."""
    sv = Supervisor(args, workdir, "e2e-groups",
                    {"echo": echo_pool(args, 2, prefetch, 1000000)})
    try:
        sv.start(2)
        res = bench_e2e_run(args, sv, prefetch, None, groups=100)
    finally:
        sv.stop()
    print("  100 groups, priorities -3..3: %9.0f jobs/s  %6.3f us/job" % (
        res["jobs_per_s"], res["us_per_job"]), flush=True)
    return res


def step_pipe(args):
    out = run_program([args.bench_pipe, "-s", str(args.pipe_seconds)],
                      4 * args.pipe_seconds + 60, "bench_pipe")
    lines = out.strip().splitlines()
    return kv(lines[0], "bench_pipe"), kv(lines[1], "bench_pipe")


def step_mp(args):
    out = run_program([sys.executable, args.bench_mp, str(args.mp_tasks)],
                      args.mp_tasks / 1000 + 120, "bench_mp.py")
    return kv(out.strip().splitlines()[-1], "bench_mp")


def step_py(args):
    """{name: {n, mpsup_s, local_s}} from bench_py.py."""
    out = run_program([sys.executable, args.bench_py, args.mpsup,
                       args.srcdir, "--scale", str(args.py_scale)],
                      600, "bench_py.py")
    rows = {}
    for line in out.strip().splitlines():
        r = kv(line, "bench_py")
        rows[r["name"]] = r
    return rows


def step_idle_rss(args, workdir):
    sv = Supervisor(args, workdir, "idle100",
                    {"idle": echo_pool(args, 100, 1, 1000)})
    try:
        sv.start(100, timeout=120)
        time.sleep(0.5)
        sv.pools()
        return rss_kib(sv.proc.pid)
    finally:
        sv.stop()


def step_queue_memory(args, workdir):
    n = args.queued
    sv = Supervisor(args, workdir, "queue",
                    {"q": echo_pool(args, 1, 1, n + 1000)})
    try:
        sv.start(1)
        sv.request({"op": "pause", "pool": "q"})
        before = rss_kib(sv.proc.pid)
        run_program([args.bench_e2e, "-W", "-a", "unix:" + sv.sock,
                     "-k", sv.keyfile, "-p", "q", "-n", str(n),
                     "-b", "10000", "-w", "4"], 300, "bench_e2e -W")
        depth = sv.pools()["q"]["queue_depth"]
        if depth != n:
            raise BenchError("queue depth %d after queueing %d" % (depth, n))
        after = rss_kib(sv.proc.pid)
    finally:
        sv.stop()
    return before, after


STORES = (
    ("memory", {"store": "memory"}),
    ("sqlite normal", {"store": "sqlite:jobs.db", "store_sync": "normal"}),
    ("sqlite full", {"store": "sqlite:jobs.db", "store_sync": "full"}),
)


def proc_io(pid):
    """/proc/PID/io as a dict (all the process's threads), or None."""
    try:
        with open("/proc/%d/io" % pid) as f:
            return {k: int(v) for k, v in
                    (line.split(":") for line in f if ":" in line)}
    except OSError:
        return None


def step_store(args, workdir):
    """Submits/s and end-to-end jobs/s for each store, in one run."""
    results = []
    for name, settings in STORES:
        tag = name.replace(" ", "-")
        settings = dict(settings)
        if settings["store"].startswith("sqlite:"):
            settings["store"] = "sqlite:" + os.path.join(
                workdir, "store-%s.db" % tag)
        n = args.store_jobs
        sv = Supervisor(args, workdir, "store-submit-" + tag,
                        {"q": echo_pool(args, 1, 1, n + 1000)}, settings)
        try:
            sv.start(1)
            sv.request({"op": "pause", "pool": "q"})
            out = run_program([args.bench_e2e, "-W", "-a", "unix:" + sv.sock,
                               "-k", sv.keyfile, "-p", "q", "-n", str(n),
                               "-b", str(args.batch), "-w",
                               str(args.window)], 300, "bench_e2e -W")
            sub = kv(out.strip().splitlines()[-1], "bench_e2e")
            if sv.pools()["q"]["queue_depth"] != n:
                raise BenchError("%s: queue depth is not %d" % (name, n))
        finally:
            sv.stop()
        remove_db(os.path.join(workdir, "store-%s.db" % tag))
        print("  %-14s %9.0f submits/s acknowledged" % (
            name, float(sub["jobs_per_s"])), flush=True)
        results.append((name, float(sub["jobs_per_s"])))
    e2e = store_rounds(args, workdir, args.best_prefetch)
    return [(name, sub, e2e[name][0]) for name, sub in results]


def remove_db(path):
    for f in (path, path + "-wal", path + "-shm"):
        try:
            os.unlink(f)
        except OSError:
            pass


def store_rounds(args, workdir, prefetch):
    """Each store's end-to-end run, the stores in turn, args.store_rounds
    times (the machine's drift and its bad minutes fall on all of them
    alike): per store, the median jobs/s and every round's."""
    rates = {name: [] for name, _ in STORES}
    for rnd in range(args.store_rounds):
        for name, settings in STORES:
            tag = name.replace(" ", "-")
            settings = dict(settings)
            if settings["store"].startswith("sqlite:"):
                path = os.path.join(workdir, "store-%s-p%s.db" % (
                    tag, prefetch))
                remove_db(path)
                settings["store"] = "sqlite:" + path
            e2e, io = store_e2e(args, workdir, tag, settings, prefetch,
                                rnd)
            rates[name].append(e2e["jobs_per_s"])
            print("  round %d, %-14s %9.0f jobs/s end to end (supervisor "
                  "%.2f s CPU in %.2f s)" % (rnd + 1, name,
                                             e2e["jobs_per_s"],
                                             e2e["sv_cpu"], e2e["seconds"]),
                  flush=True)
            if io and rnd == 0:
                print("  %22s written %.0f B and %.3f write calls per job, "
                      "read %.0f B and %.3f read calls" % (("",) + io),
                      flush=True)
    return {name: (statistics.median(r), r) for name, r in rates.items()}


def store_e2e(args, workdir, tag, settings, prefetch, rnd=0):
    """One store's end-to-end run: bench_e2e's figures, and the bytes and
    calls the supervisor read and wrote per job (None without /proc)."""
    sv = Supervisor(args, workdir, "store-e2e-%s-%s-%d" % (tag, prefetch,
                                                          rnd),
                    {"echo": echo_pool(args, 2, prefetch, 1000000)},
                    settings)
    try:
        sv.start(2)
        saved = args.seconds
        args.seconds = args.store_seconds
        io0 = proc_io(sv.proc.pid)
        try:
            e2e = bench_e2e_run(args, sv, prefetch, None)
        finally:
            args.seconds = saved
        io1 = proc_io(sv.proc.pid)
    finally:
        sv.stop()
    if not (io0 and io1):
        return e2e, None
    n = e2e["jobs"]
    return e2e, ((io1["wchar"] - io0["wchar"]) / n,
                 (io1["syscw"] - io0["syscw"]) / n,
                 (io1["rchar"] - io0["rchar"]) / n,
                 (io1["syscr"] - io0["syscr"]) / n)


def step_store_prefetch(args, workdir):
    """The stores' end-to-end rows again at each --store-prefetch value:
    with a durable store a job's line waits for the commit of its start,
    so a worker stays busy only with more jobs in flight."""
    rows = []
    for prefetch in [p for p in args.store_prefetch.split(",") if p]:
        print("job store, end to end at prefetch %s ..." % prefetch,
              flush=True)
        rows.append((prefetch, store_rounds(args, workdir, prefetch)))
    return rows


def print_store_prefetch(rows):
    for prefetch, e2e in rows:
        rounds = len(e2e["memory"][1])
        print("%-16s %18s %8s   (prefetch %s; median of %d round%s: each)"
              % ("store", "jobs/s (e2e)", "vs mem", prefetch, rounds,
                 "" if rounds == 1 else "s"))
        mem = e2e["memory"][0]
        for name, _ in STORES:
            med, each = e2e[name]
            print("%-16s %18.0f %7.0f%%   %s" % (
                name, med, 100.0 * med / mem,
                " ".join("%.0f" % r for r in each)))


def print_stores(stores, rounds):
    print("%-16s %18s %8s %18s %8s" % ("store", "submits/s (ack)",
                                       "vs mem", "jobs/s (e2e)", "vs mem"))
    mem = stores[0]
    for name, sub, e2e_rate in stores:
        print("%-16s %18.0f %7.0f%% %18.0f %7.0f%%" % (
            name, sub, 100.0 * sub / mem[1], e2e_rate,
            100.0 * e2e_rate / mem[2]))
    print("(jobs/s end to end: the median of %d round%s, the stores in "
          "turn)" % (rounds, "" if rounds == 1 else "s"))


def store_only(args):
    """--store-only: step 5 alone, with the default prefetch."""
    workdir = tempfile.mkdtemp(prefix="mpsup-bench.")
    args.best_prefetch = args.prefetch.split(",")[0]
    ok = False
    try:
        print("job store (%d submits, %gs end to end, each; load %s) ..." % (
            args.store_jobs, args.store_seconds,
            " ".join(open("/proc/loadavg").read().split()[:3])), flush=True)
        stores = step_store(args, workdir)
        sweep = step_store_prefetch(args, workdir)
        ok = True
    except BenchError as e:
        print("bench: %s" % e, file=sys.stderr)
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
    finally:
        if args.keep or not ok:
            print("bench: configs and logs kept in %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if not ok:
        return 1
    print()
    print_stores(stores, args.store_rounds)
    print_store_prefetch(sweep)
    return 0


def step_ops(args, workdir):
    # bench_ops imports this file as "run": let it be this module.
    sys.modules.setdefault("run", sys.modules[__name__])
    import bench_ops as ops
    res = {}
    print("stream jobs through the CLI (%d lines) ..." % args.cli_jobs,
          flush=True)
    res["cli"] = ops.step_cli_stream(args, workdir, args.cli_jobs)
    print("restart latency (101 workers) ...", flush=True)
    res["restart"] = ops.step_restart(args, workdir)
    print("100 workers from cold ...", flush=True)
    res["cold"] = ops.step_cold(args, workdir)
    print("exec jobs (%d per run) ..." % args.exec_jobs, flush=True)
    res["exec"] = ops.step_exec(args, workdir, args.exec_jobs)
    print("submit+wait round trips (%d) ..." % args.round_trips, flush=True)
    res["rtt"] = ops.step_round_trip(args, workdir, args.round_trips)
    return res


def ops_rows(ops, mp):
    mp_rate = float(mp["tasks_per_s"])
    (sh, xsh, tr, xtr), (rt_us, rt_base) = ops["exec"], ops["rtt"]
    return [
        ("stream jobs/s, seq | submit --stdin -w", "%.0f" % ops["cli"],
         "python mp.Pool(2) imap: %.0f/s (x%.1f)" % (
             mp_rate, ops["cli"] / mp_rate)),
        ("restart: kill -9 -> replacement exec'd",
         "%.2f ms median" % ops["restart"][0],
         "kill + spawn from Python: %.2f ms (x%.2f)" % (
             ops["restart"][1], ops["restart"][0] / ops["restart"][1])),
        ("100 workers from cold", "%.0f ms median" % (ops["cold"][0] * 1000),
         "100 spawns from Python: %.0f ms (x%.2f)" % (
             ops["cold"][1] * 1000, ops["cold"][0] / ops["cold"][1])),
        ("exec jobs/s, shell lines (--stdin -w)", "%.0f" % sh,
         "xargs -P2 sh -c: %.0f/s (x%.2f)" % (xsh, sh / xsh)),
        ("exec jobs/s, /bin/true (submit_many)", "%.0f" % tr,
         "xargs -P2 /bin/true: %.0f/s (x%.2f)" % (xtr, tr / xtr)),
        ("submit+wait round trip, 1 client", "%.1f us" % rt_us,
         "bare Listener echo: %.1f us (x%.2f)" % (rt_base, rt_us / rt_base)),
    ]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--builddir", default=".")
    ap.add_argument("--srcdir", default=None)
    ap.add_argument("--prefetch", default=DEFAULT_PREFETCH,
                    help="comma-separated values to try; the best is "
                    "reported (default %(default)s)")
    ap.add_argument("--jobs", type=int, default=2000000,
                    help="end-to-end jobs (default %(default)s)")
    ap.add_argument("--seconds", type=float, default=10,
                    help="stop the end-to-end run after this long")
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--window", type=int, default=4)
    ap.add_argument("--mp-tasks", type=int, default=100000)
    ap.add_argument("--pipe-seconds", type=float, default=1.0)
    ap.add_argument("--queued", type=int, default=1000000)
    ap.add_argument("--store-jobs", type=int, default=500000,
                    help="submits per store in the store comparison")
    ap.add_argument("--store-seconds", type=float, default=5,
                    help="end-to-end seconds per store")
    ap.add_argument("--store-rounds", type=int, default=3,
                    help="end-to-end runs per store, the stores in turn; "
                    "the median is reported (default %(default)s)")
    ap.add_argument("--store-prefetch", default="1024",
                    help="more prefetch values for the stores' end-to-end "
                    "rows (comma-separated; empty: none)")
    ap.add_argument("--exec-jobs", type=int, default=20000,
                    help="jobs per exec benchmark (and per xargs run)")
    ap.add_argument("--round-trips", type=int, default=20000)
    ap.add_argument("--cli-jobs", type=int, default=500000,
                    help="lines through `mpsup submit --stdin -w`")
    ap.add_argument("--py-scale", type=float, default=1.0,
                    help="size of the Python module's runs (1 = 10**6 "
                    "for map)")
    ap.add_argument("--cluster-jobs", type=int, default=1000000,
                    help="end-to-end jobs per cluster row")
    ap.add_argument("--cluster-seconds", type=float, default=5,
                    help="stop sending after this long, per cluster row")
    ap.add_argument("--cluster-profile", metavar="DIR",
                    help="profile the 1- and 3-node cluster runs (perf "
                    "record of node A and redis-server, strace -c of node "
                    "A) into DIR")
    ap.add_argument("--cluster-only", action="store_true",
                    help="run only the cluster rows (and their memory "
                    "store baseline)")
    ap.add_argument("--quick", action="store_true",
                    help="smaller runs, for trying the suite out")
    ap.add_argument("--perf", metavar="FILE",
                    help="perf record -g the supervisor during the "
                    "(first) end-to-end run into FILE")
    ap.add_argument("--store-only", action="store_true",
                    help="only the job store comparison (step 5)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temp dir (configs and logs)")
    args = ap.parse_args()
    if args.quick:
        args.jobs = min(args.jobs, 200000)
        args.mp_tasks = min(args.mp_tasks, 20000)
        args.queued = min(args.queued, 100000)
        args.pipe_seconds = min(args.pipe_seconds, 0.3)
        args.store_jobs = min(args.store_jobs, 100000)
        args.store_seconds = min(args.store_seconds, 2)
        args.store_rounds = min(args.store_rounds, 1)
        args.exec_jobs = min(args.exec_jobs, 3000)
        args.round_trips = min(args.round_trips, 3000)
        args.cli_jobs = min(args.cli_jobs, 100000)
        args.py_scale = min(args.py_scale, 0.2)
        args.cluster_jobs = min(args.cluster_jobs, 50000)
        args.cluster_seconds = min(args.cluster_seconds, 2)
    b = os.path.abspath(args.builddir)
    s = os.path.abspath(args.srcdir or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), ".."))
    args.mpsup = os.path.join(b, "mpsup")
    args.echo_worker = os.path.join(b, "examples", "echo_worker")
    args.bench_e2e = os.path.join(b, "bench", "bench_e2e")
    args.bench_pipe = os.path.join(b, "bench", "bench_pipe")
    args.bench_mp = os.path.join(s, "bench", "bench_mp.py")
    args.bench_py = os.path.join(s, "bench", "bench_py.py")
    args.srcdir = s
    for p in (args.mpsup, args.echo_worker, args.bench_e2e, args.bench_pipe,
              args.bench_mp, args.bench_py):
        if not os.path.exists(p):
            sys.exit("bench: %s is missing (run it as `make bench`)" % p)
    if args.perf:
        args.perf = os.path.abspath(args.perf)
    if args.cluster_profile:
        args.cluster_profile = os.path.abspath(args.cluster_profile)
    # bench_cluster imports this file as "run": let it be this module.
    sys.modules.setdefault("run", sys.modules[__name__])
    sys.path.insert(0, os.path.join(s, "bench"))
    import bench_cluster

    # A SIGTERM (e.g. from a CI timeout) unwinds like ^C, through the
    # finally clauses that kill what was started.
    signal.signal(signal.SIGTERM, lambda *a: (_ for _ in ()).throw(
        KeyboardInterrupt()))
    if args.store_only:
        return store_only(args)
    workdir = tempfile.mkdtemp(prefix="mpsup-bench.")
    ok = False
    if args.cluster_only:
        try:
            args.best_prefetch = args.prefetch.split(",")[0]
            print("cluster, one Redis (up to %d jobs or %gs a row):" % (
                args.cluster_jobs, args.cluster_seconds), flush=True)
            rows = bench_cluster.step_cluster(args, workdir)
            ok = True
        except BenchError as e:
            print("bench: %s" % e, file=sys.stderr)
        except KeyboardInterrupt:
            print("bench: interrupted", file=sys.stderr)
        finally:
            if args.keep or not ok:
                print("bench: configs and logs kept in %s" % workdir)
            else:
                shutil.rmtree(workdir, ignore_errors=True)
        if not ok:
            return 1
        print()
        bench_cluster.print_rows(rows, args.best_prefetch)
        return 0
    try:
        print("end to end (batch %d, window %d, up to %d jobs or %gs):" % (
            args.batch, args.window, args.jobs, args.seconds), flush=True)
        e2e = step_e2e(args, workdir)
        e2e_groups = step_e2e_groups(args, workdir, e2e["prefetch"])
        print("baselines ...", flush=True)
        pingpong, batched = step_pipe(args)
        mp = step_mp(args)
        print("supervisor RSS with 100 idle workers ...", flush=True)
        idle100 = step_idle_rss(args, workdir)
        print("memory per queued job (%d queued) ..." % args.queued,
              flush=True)
        q_before, q_after = step_queue_memory(args, workdir)
        print("job store (%d submits, %gs end to end, each) ..." % (
            args.store_jobs, args.store_seconds), flush=True)
        args.best_prefetch = e2e["prefetch"]
        stores = step_store(args, workdir)
        sweep = step_store_prefetch(args, workdir)
        ops = step_ops(args, workdir)
        print("the Python module beside multiprocessing ...", flush=True)
        py = step_py(args)
        print("cluster, one Redis (up to %d jobs or %gs a row):" % (
            args.cluster_jobs, args.cluster_seconds), flush=True)
        cluster = bench_cluster.step_cluster(args, workdir)
        ok = True
    except BenchError as e:
        print("bench: %s" % e, file=sys.stderr)
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
    except Exception:
        traceback.print_exc()
    finally:
        if args.keep or not ok:
            print("bench: configs and logs kept in %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if not ok:
        return 1

    wall = e2e["seconds"]
    rows = [
        ("end-to-end jobs/s (2 echo workers)",
         "%.0f" % e2e["jobs_per_s"],
         "python mp.Pool(2) imap: %s tasks/s (x%.1f)" % (
             mp["tasks_per_s"],
             e2e["jobs_per_s"] / float(mp["tasks_per_s"]))),
        ("end-to-end jobs/s, 100 groups, priorities -3..3",
         "%.0f" % e2e_groups["jobs_per_s"],
         "%.3f us/job (default path: %.3f)" % (e2e_groups["us_per_job"],
                                               e2e["us_per_job"])),
        ("per-job overhead",
         "%.3f us" % e2e["us_per_job"],
         "raw pipe round trip: %s us (batched x%s: %s us/msg)" % (
             pingpong["us_per_round_trip"], batched["batch"],
             batched["us_per_message"])),
        ("supervisor RSS, 100 idle workers",
         "%d KiB" % idle100,
         "2 idle workers: %d KiB" % e2e["idle_rss_kib"]),
        ("bytes per queued job (%s)" % format(args.queued, ","),
         "%.0f B" % ((q_after - q_before) * 1024 / args.queued),
         "RSS %d -> %d KiB" % (q_before, q_after)),
    ] + ops_rows(ops, mp)
    print()
    print("%-40s %-18s %s" % ("benchmark", "result", "baseline (same run)"))
    for r in rows:
        print("%-40s %-18s %s" % r)
    print()
    print("end to end: %d jobs in %.2f s, prefetch %s, batch %d, window %d; "
          "batch latency mean %.1f ms, max %.1f ms" % (
              e2e["jobs"], wall, e2e["prefetch"], args.batch, args.window,
              e2e["batch_latency_ms_mean"], e2e["batch_latency_ms_max"]))
    print("CPU during it (of %d cores x %.2f s): supervisor %.2f s, "
          "2 workers %.2f s, client %.2f s" % (
              os.cpu_count(), wall, e2e["sv_cpu"], e2e["workers_cpu"],
              e2e["client_cpu_s"]))
    print("pipe ping-pong: %s round trips/s; batched: %s msgs/s" % (
        pingpong["per_s"], batched["per_s"]))
    print()
    print_stores(stores, args.store_rounds)
    print_store_prefetch(sweep)
    print()
    print("%-44s %12s %12s %8s" % ("python, 2 workers each", "mpsup",
                                   "local", "ratio"))
    for name, what, local in (
            ("map", "Pool.map(sqr, range(%s))", "mp.Pool"),
            ("imap", "Pool.imap(sqr, range(%s), chunksize=1)", "mp.Pool"),
            ("submit", "Executor.submit x %s", "ProcessPoolExecutor")):
        r = py[name]
        n = int(r["n"])
        m, loc = float(r["mpsup_s"]), float(r["local_s"])
        print("%-44s %10.0f/s %10.0f/s %7.2fx  (%s)" % (
            what % format(n, ","), n / m, n / loc, m / loc, local))
    print("(ratio: mpsup's time over the local pool's; below 1 is faster)")
    print()
    bench_cluster.print_rows(cluster, args.best_prefetch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
