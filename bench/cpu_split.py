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

Usage, from the build directory after `make mpsup examples/echo_worker
bench/bench_e2e`:
    bench/cpu_split.py [--mode cli|e2e] [--jobs N] [--rounds R]
                       [--mpsup PATH] [--worker PATH]
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
    """Nanoseconds a live process has run (all its threads), or None."""
    try:
        with open("/proc/%d/schedstat" % pid) as f:
            return int(f.read().split()[0])
    except OSError:
        return None


def one_round(args, workdir, name):
    sv = R.Supervisor(args, workdir, name,
                      {"echo": R.echo_pool(args, 2, args.prefetch,
                                           args.jobs + 1000)})
    try:
        sv.start(2)
        sv.pools()
        pids = sorted(sv.worker_pids)
        if len(pids) != 2:
            raise R.BenchError("expected 2 workers, saw %r" % pids)
        before = [run_ns(sv.proc.pid)] + [run_ns(p) for p in pids]
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
        if stdin == subprocess.PIPE:
            p.stdin.write(data)
            p.stdin.close()
        err = p.stderr.read()
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        dt = time.perf_counter() - t0
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
            "all": client + sum(per)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--builddir", default=".")
    ap.add_argument("--mode", choices=("cli", "e2e"), default="cli")
    ap.add_argument("--jobs", type=int, default=500000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--prefetch", default="256")
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
    print("%s, %d jobs, load %.2f; CPU ns per job" % (
        args.mode, args.jobs, os.getloadavg()[0]))
    print(" ".join("%10s" % c for c in cols))
    try:
        for i in range(args.rounds):
            r = one_round(args, workdir, "r%d" % i)
            print(" ".join("%10.0f" % r[c] for c in cols), flush=True)
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
