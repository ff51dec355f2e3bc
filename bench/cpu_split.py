#!/usr/bin/env python3
"""CPU per job of each process of an end-to-end stream run.

The end-to-end rows of `make bench` share 2 cores between four processes:
the client, the supervisor and 2 echo workers. This runs one of them and
prints, for each process, its CPU time per job (nanoseconds of run time
from /proc/PID/schedstat, so finer than the clock ticks of /proc/PID/stat;
the client's from wait4), and the jobs/s of the run:

    cli   `seq N | mpsup submit --stdin -w >/dev/null` (the "stream jobs/s,
          seq | submit --stdin -w" row)
    e2e   bench_e2e -b 2000 -w 4 (the "end-to-end jobs/s" row)

With --store normal|full the supervisor keeps its jobs in SQLite
(store_sync normal or full) rather than in memory. With --threads it also
prints, for each thread of each process, the share of the run's wall time
it ran and the share it waited, runnable, for a core (run_delay in
schedstat): a thread on the jobs' critical path that waits for a core
holds up every job behind it, which CPU per job does not show.

Usage, from the build directory after `make mpsup examples/echo_worker
bench/bench_e2e`:
    bench/cpu_split.py [--mode cli|e2e] [--jobs N] [--rounds R]
                       [--prefetch N] [--store memory|normal|full]
                       [--threads] [--mpsup PATH] [--worker PATH]
--mpsup and --worker let an old binary run against the new one in turns.
"""
import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as R  # noqa: E402


def run_ns(pid):
    """Nanoseconds a live process has run (all its threads: the
    supervisor's helpers too, which /proc/PID/schedstat, the first
    thread's alone, leaves out), or None."""
    times = task_times(pid)
    return sum(run for _, run, _ in times.values()) if times else None


def task_times(pid):
    """{(pid, tid): (name, ns run, ns waiting for a core)} of a process's
    threads; empty once it is gone (a zombie's threads are)."""
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                name = f.read().strip()
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                run, wait = (int(x) for x in f.read().split()[:2])
        except (OSError, ValueError):
            continue
        out[(pid, int(tid))] = (name, run, wait)
    return out


def all_task_times(pids):
    out = {}
    for pid in pids:
        out.update(task_times(pid))
    return out


def thread_shares(before, after, seconds):
    """[(name, run share, wait share)] of the threads alive at both ends."""
    rows = []
    for key in sorted(after):
        if key in before:
            name, run, wait = after[key]
            rows.append((name, (run - before[key][1]) / 1e9 / seconds,
                         (wait - before[key][2]) / 1e9 / seconds))
    return rows


STORES = {"memory": None,
          "normal": {"store": "sqlite:jobs.db", "store_sync": "normal"},
          "full": {"store": "sqlite:jobs.db", "store_sync": "full"}}


def one_round(args, workdir, name):
    settings = STORES[args.store]
    if settings is not None:
        settings = dict(settings, store="sqlite:" + os.path.join(
            workdir, name + ".db"))
    sv = R.Supervisor(args, workdir, name,
                      {"echo": R.echo_pool(args, 2, args.prefetch,
                                           args.jobs + 1000)}, settings)
    try:
        sv.start(2)
        sv.pools()
        pids = sorted(sv.worker_pids)
        if len(pids) != 2:
            raise R.BenchError("expected 2 workers, saw %r" % pids)
        before = [run_ns(sv.proc.pid)] + [run_ns(p) for p in pids]
        tasks0 = all_task_times([sv.proc.pid] + pids)
        if args.mode == "cli":
            argv = [args.mpsup, "submit", "-a", "unix:" + sv.sock, "-k",
                    sv.keyfile, "-p", "echo", "--stdin", "-w"]
            stdin = subprocess.PIPE
        else:
            argv = [args.bench_e2e, "-a", "unix:" + sv.sock, "-k",
                    sv.keyfile, "-p", "echo", "-n", str(args.jobs),
                    "-b", "2000", "-w", "4", "-t", "600"]
            stdin = subprocess.DEVNULL
        data = b"".join(b"%d\n" % i for i in range(args.jobs))
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, start_new_session=True)
        client0 = task_times(p.pid)
        if stdin == subprocess.PIPE:
            p.stdin.write(data)
            p.stdin.close()
        err = p.stderr.read()
        # Past its stderr's end the client is about to exit: its times
        # now (a zombie's can no longer be read), before it is reaped.
        tasks1 = all_task_times([sv.proc.pid] + pids + [p.pid])
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        dt = time.perf_counter() - t0
        tasks0.update(client0)
        if p.returncode != 0:
            raise R.BenchError("client exited %d: %s" % (
                p.returncode, err.decode(errors="replace")[-500:]))
        after = [run_ns(sv.proc.pid)] + [run_ns(p) for p in pids]
        done = sv.pools()["echo"]["jobs"]["done"]
        # bench_e2e sends a warm-up batch of its own first.
        if done < args.jobs or (args.mode == "cli" and done != args.jobs):
            raise R.BenchError("%d of %d jobs done" % (done, args.jobs))
    finally:
        sv.stop()
    n = done
    client = (ru.ru_utime + ru.ru_stime) * 1e9 / n
    per = [(a - b) / n for a, b in zip(after, before)]
    return {"jobs/s": n / dt, "client": client, "supervisor": per[0],
            "worker 1": per[1], "worker 2": per[2],
            "all": client + sum(per),
            "threads": thread_shares(tasks0, tasks1, dt)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--builddir", default=".")
    ap.add_argument("--mode", choices=("cli", "e2e"), default="cli")
    ap.add_argument("--jobs", type=int, default=500000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--prefetch", default="256")
    ap.add_argument("--store", choices=sorted(STORES), default="memory")
    ap.add_argument("--threads", action="store_true",
                    help="each thread's share of the run: running, and "
                    "waiting for a core")
    ap.add_argument("--mpsup")
    ap.add_argument("--worker")
    args = ap.parse_args()
    b = os.path.abspath(args.builddir)
    args.mpsup = os.path.abspath(args.mpsup or os.path.join(b, "mpsup"))
    args.echo_worker = os.path.abspath(args.worker or os.path.join(
        b, "examples", "echo_worker"))
    args.bench_e2e = os.path.join(b, "bench", "bench_e2e")
    workdir = tempfile.mkdtemp(prefix="mpsup-cpusplit.")
    cols = ("jobs/s", "client", "supervisor", "worker 1", "worker 2", "all")
    print("%s, %d jobs, store %s, prefetch %s, load %.2f; CPU ns per job" % (
        args.mode, args.jobs, args.store, args.prefetch,
        os.getloadavg()[0]))
    print(" ".join("%10s" % c for c in cols))
    try:
        for i in range(args.rounds):
            r = one_round(args, workdir, "r%d" % i)
            print(" ".join("%10.0f" % r[c] for c in cols), flush=True)
            if args.threads:
                busy = sum(run for _, run, _ in r["threads"])
                for tname, run, wait in r["threads"]:
                    if run + wait >= 0.005:
                        print("  %-15s ran %5.1f %%, waited for a core "
                              "%5.1f %%" % (tname, run * 100, wait * 100))
                print("  cores busy: %.2f of %d" % (busy, os.cpu_count()),
                      flush=True)
    except R.BenchError as e:
        print("cpu_split: %s" % e, file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("load %.2f" % os.getloadavg()[0])
    return 0


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    sys.exit(main())
