"""Supervision: workers start, are replaced, back off, stop cleanly."""
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (MPSUP, WRAPPED, Skip, Supervisor, config,  # noqa: E402
                     connect, pid_alive, request, run_tests, wait_for,
                     worker_pids, write)


def sleepers(head=""):
    """Three workers that say "up" and sleep; head: more [supervisor] keys."""
    return config("supervisor", extra=head) + config(
        "pool_shell", name="sleepers", workers=3,
        command='echo "up $MPSUP_POOL $MPSUP_WORKER $$"; exec sleep 1000')


SLEEPER = sleepers()


def proc_gone(pid):
    """Not running (gone, or a zombie about to be reaped)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_killed_worker_takes_its_own_process_groups_with_it(tmp):
    """A worker's child in a process group of its own dies with it."""
    cfg = config("supervisor") + config(
        "pool_shell", name="jc", workers=1, extra="restart_delay = 10ms",
        command='python3 -c "import os, time; os.setpgid(0, 0); '
                'time.sleep(1000)" & echo "bg $!"; exec sleep 1000')
    sup = Supervisor(tmp, cfg)
    line = sup.wait_log(" bg ")[0]
    bg = int(line.rsplit(" ", 1)[1])
    (worker,) = worker_pids(sup, "jc")
    # In a group of its own, which a group kill misses.
    wait_for(lambda: os.getpgid(bg) == bg, what="its own process group")
    assert bg != worker
    os.kill(worker, signal.SIGKILL)
    wait_for(lambda: proc_gone(bg), timeout=2, what="its background child")
    sup.wait_log("process it left behind")
    assert sup.stop() == 0



def test_killed_worker_takes_a_grandchild_in_a_group_of_its_own(tmp):
    """A worker's child (in the worker's group) left a grandchild in a
    group of its own: when the worker is killed, the grandchild dies too,
    although the worker left no child of its own outside its group."""
    cfg = config("supervisor") + config(
        "pool_shell", name="gc", workers=1, extra="restart_delay = 10ms",
        command='(python3 -c "import os, time; os.setpgid(0, 0); '
                'time.sleep(1000)" & echo "gc $!"; wait) & exec sleep 1000')
    sup = Supervisor(tmp, cfg)
    line = sup.wait_log(" gc ")[0]
    gc = int(line.rsplit(" ", 1)[1])
    (worker,) = worker_pids(sup, "gc")
    wait_for(lambda: os.getpgid(gc) == gc, what="its own process group")
    assert os.getsid(gc) == worker
    os.kill(worker, signal.SIGKILL)
    wait_for(lambda: proc_gone(gc), timeout=2, what="the grandchild")
    sup.wait_log("process it left behind")
    # And the replacement comes up.
    wait_for(lambda: [p for p in worker_pids(sup, "gc") if p != worker],
             what="the replacement")
    assert sup.stop() == 0

def test_killed_exec_worker_takes_its_jobs_background_processes(tmp):
    """kill -9 of an exec worker: the job's leftovers are killed too."""
    pidfile = os.path.join(tmp, "bg.pid")
    cfg = config("supervisor", legacy_md5="yes") + config(
        "pool_exec", name="x", workers=1)
    sup = Supervisor(tmp, cfg)
    c = connect(tmp)
    r = request(c, {"op": "submit", "pool": "x",
                    "shell": "sleep 1000 & echo $! > %s; wait" % pidfile})
    assert r["ok"], r
    wait_for(lambda: os.path.exists(pidfile) and
             open(pidfile).read().strip() != "", what="the job's pid file")
    bg = int(open(pidfile).read())
    (worker,) = worker_pids(sup, "x")
    assert os.getpgid(bg) != os.getpgid(worker)
    os.kill(worker, signal.SIGKILL)
    wait_for(lambda: proc_gone(bg), timeout=2, what="the job's sleep")
    c.close()
    assert sup.stop() == 0


def test_workers_start_with_their_environment(tmp):
    cfg = config("supervisor") + config(
        "pool_shell", name="envy", workers=2,
        extra="env = GREETING=hello world\nenv = OTHER=2\ncwd = sub",
        command='echo "pool=$MPSUP_POOL worker=$MPSUP_WORKER '
                'sup=$MPSUP_SUPERVISOR_PID fds=$MPSUP_JOB_FDS '
                'greet=$GREETING other=$OTHER cwd=$(pwd)"; exec sleep 1000')
    os.mkdir(os.path.join(tmp, "sub"))
    sup = Supervisor(tmp, cfg)
    lines = sup.wait_log("pool=envy", count=2)
    for idx in (0, 1):
        want = "pool=envy worker=%d sup=%d fds=3,4 greet=hello world other=2 cwd=%s/sub" % (
            idx, sup.pid, os.path.realpath(tmp))
        assert any(l.endswith(want) for l in lines), (want, lines)
    assert re.search(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z envy\.0\[\d+\] out: pool=envy",
                     "\n".join(lines), re.M), lines
    assert len(worker_pids(sup, "envy")) == 2
    assert sup.stop() == 0


def asleep(pid):
    """Whether pid waits in nanosleep (its wait channel, or the system
    call it is in: clock_nanosleep or nanosleep on x86-64)."""
    for name, test in (("wchan", lambda t: "nanosleep" in t),
                       ("syscall", lambda t: t.split(" ")[0] in ("230", "35"))):
        try:
            with open("/proc/%d/%s" % (pid, name)) as f:
                if test(f.read()):
                    return True
        except OSError:
            pass
    return False


def test_worker_has_only_its_own_descriptors(tmp):
    cfg = config("supervisor") + config(
        "pool_shell", name="a", workers=1,
        command="echo up; exec sleep 1000") + """
[pool:b]
type = stream
workers = 1
command = sh -c 'echo up >&2; exec sleep 1000'
"""
    sup = Supervisor(tmp, cfg)
    sup.wait_log("up", count=2)

    def fds(pool):
        pids = wait_for(lambda: worker_pids(sup, pool), what="the worker")
        assert len(pids) == 1, pids
        # "up" is logged before the shell execs sleep; a shell may hold a
        # saved descriptor around a redirection until then, and sleep
        # itself opens locale files while it starts: look once it sleeps.
        wait_for(lambda: os.readlink("/proc/%d/exe" % pids[0]).endswith("/sleep"),
                 what="the worker to exec sleep")
        wait_for(lambda: asleep(pids[0]), what="the worker to be asleep")
        fd_dir = "/proc/%d/fd" % pids[0]
        found = {}
        for x in os.listdir(fd_dir):
            try:
                found[int(x)] = os.readlink(os.path.join(fd_dir, x))
            except OSError:
                found[int(x)] = "?"
        return found
    got = fds("a")
    assert sorted(got) == [0, 1, 2, 3, 4], got
    got = fds("b")
    assert sorted(got) == [0, 1, 2], got
    assert sup.stop() == 0


def test_workers_drop_to_configured_user_and_group(tmp):
    import pwd
    import grp
    if os.geteuid() != 0:
        raise Skip("needs root to change user")
    nobody = pwd.getpwnam("nobody")
    group = grp.getgrgid(nobody.pw_gid).gr_name
    cfg = config("supervisor") + config(
        "pool_shell", name="low", workers=1,
        extra="user = nobody\ngroup = %s" % group,
        command='echo "ids $(id -u) $(id -g) $(id -G)"; exec sleep 1000')
    os.chmod(tmp, 0o755)
    sup = Supervisor(tmp, cfg)
    line = sup.wait_log("out: ids ")[0]
    ids = line.split("out: ids ")[1].split()
    assert ids[0] == str(nobody.pw_uid) and ids[1] == str(nobody.pw_gid), line
    assert "0" not in ids[2:], "root's supplementary groups leaked: %s" % line
    assert sup.stop() == 0


def test_jobs_of_the_same_user_cannot_open_mpsup_through_proc(tmp):
    # An exec job runs as the supervisor's user unless its pool says
    # otherwise; through /proc it could read the supervisor's and the
    # exec worker's memory and descriptors (fds 3 and 4 of the exec worker
    # are its job channel). Both are non-dumpable, which /proc refuses
    # to processes of the same user. Root passes that check, so the
    # supervisor runs as nobody here.
    import pwd
    import shutil
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        raise Skip("needs root and setpriv to start mpsup as nobody")
    if WRAPPED:
        raise Skip("runs the binary itself as nobody, not a tool's wrapper")
    cfg = config("supervisor", legacy_md5="yes") + config(
        "pool_exec", name="sh", workers=1, extra="output = capture")
    os.chmod(tmp, 0o777)
    sup = Supervisor(tmp, cfg, prefix=[
        "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"])
    script = ('id -u; for p in $MPSUP_SUPERVISOR_PID $PPID; do '
              'for f in environ fd/0 fd/3 fd/4; do '
              '(: < /proc/$p/$f) 2>/dev/null && echo "opened $p/$f"; '
              'done; ls /proc/$p/fd >/dev/null 2>&1 && echo "listed $p"; '
              'done; exit 0')
    c = connect(tmp)
    r = request(c, {"op": "submit", "pool": "sh", "shell": script,
                    "wait": True, "timeout": 10})
    assert r["ok"] and r["job"]["state"] == "done", r
    out = r["job"]["stdout"].split("\n")
    assert out[0] == str(pwd.getpwnam("nobody").pw_uid), out
    assert out[1:] == [""], "a job opened mpsup's /proc files: %r" % out
    assert sup.stop() == 0


def test_jobs_of_a_pool_with_a_user_cannot_open_their_exec_worker(tmp):
    # With user = nobody the exec worker runs as nobody too, like its jobs.
    import grp
    import pwd
    if os.geteuid() != 0:
        raise Skip("needs root to change user")
    nobody = pwd.getpwnam("nobody")
    cfg = config("supervisor", legacy_md5="yes") + config(
        "pool_exec", name="low", workers=1,
        extra="output = capture\nuser = nobody\ngroup = %s"
        % grp.getgrgid(nobody.pw_gid).gr_name)
    os.chmod(tmp, 0o755)
    sup = Supervisor(tmp, cfg)
    script = ('id -u; for f in environ fd/3 fd/4; do '
              '(: < /proc/$PPID/$f) 2>/dev/null && echo "opened $f"; '
              'done; ls /proc/$PPID/fd >/dev/null 2>&1 && echo listed; exit 0')
    c = connect(tmp)
    r = request(c, {"op": "submit", "pool": "low", "shell": script,
                    "wait": True, "timeout": 10})
    assert r["ok"] and r["job"]["state"] == "done", r
    out = r["job"]["stdout"].split("\n")
    assert out == [str(nobody.pw_uid), ""], \
        "a job opened its exec worker's /proc files: %r" % out
    assert sup.stop() == 0


def test_killed_worker_is_replaced(tmp):
    sup = Supervisor(tmp, SLEEPER)
    sup.wait_log("up sleepers", count=3)
    before = worker_pids(sup, "sleepers")
    assert len(before) == 3, before
    victim = before[1]
    os.kill(victim, signal.SIGKILL)
    after = wait_for(lambda: (lambda p: p if len(p) == 3 and victim not in p else None)(
        worker_pids(sup, "sleepers")), timeout=2.0, what="replacement worker")
    assert set(before) - {victim} <= set(after)
    sup.wait_log("killed by signal 9")
    assert sup.stop() == 0


def test_crash_looping_worker_backs_off(tmp):
    cfg = config("supervisor") + config(
        "pool_shell", name="crashy", workers=1,
        extra="restart_delay = 100ms\nrestart_delay_max = 1s",
        command="echo boom; exit 3") + config(
        "pool_shell", name="steady", workers=1,
        command="echo steady; exec sleep 1000")
    sup = Supervisor(tmp, cfg)
    sup.wait_log("pool crashy: workers keep dying", timeout=10)
    time.sleep(2.5)
    log = sup.log()
    delays = [int(m) for m in re.findall(r"crashy\.0: restarting in (\d+)ms", log)]
    assert delays[:5] == [100, 200, 400, 800, 1000], delays
    assert all(d == 1000 for d in delays[4:]), delays
    # Back-off bounds the rate: a tight loop would have made hundreds.
    assert log.count("exited with status 3") < 15
    assert sup.proc.poll() is None, "supervisor died"
    assert len(worker_pids(sup, "steady")) == 1
    assert sup.stop() == 0


def test_sigterm_exits_zero_and_leaves_no_process(tmp):
    cfg = config("supervisor") + config(
        "pool_shell", name="family", workers=2,
        command='sleep 1000 & echo "child $!"; echo "self $$"; wait')
    sup = Supervisor(tmp, cfg)
    sup.wait_log("child ", count=2)
    sup.wait_log("self ", count=2)
    pids = [int(l.rsplit(" ", 1)[1]) for l in sup.lines() if " out: child " in l or " out: self " in l]
    assert len(pids) == 4 and all(pid_alive(p) for p in pids), pids
    assert sup.stop() == 0
    wait_for(lambda: not any(pid_alive(p) for p in pids), timeout=2, what="all workers gone")
    assert "stopped" in sup.lines()[-1]


def test_stop_timeout_escalates_to_sigkill(tmp):
    cfg = config("supervisor") + config(
        "pool_shell", name="stubborn", workers=1,
        extra="stop_timeout = 500ms",
        command='trap "echo ignoring TERM" TERM; echo "ready $$"; '
                'while true; do sleep 0.1; done')
    sup = Supervisor(tmp, cfg)
    line = sup.wait_log("ready ")[0]
    pid = int(line.rsplit(" ", 1)[1])
    t0 = time.monotonic()
    assert sup.stop(timeout=10) == 0
    assert time.monotonic() - t0 < 5
    assert "did not stop within 0.5s" in sup.log()
    assert not pid_alive(pid)


def test_stop_signal_is_configurable(tmp):
    cfg = config("supervisor") + config(
        "pool_shell", name="q", workers=1, extra="stop_signal = INT",
        command='trap "echo got INT; exit 0" INT; trap "" TERM; '
                'echo ready; while true; do sleep 0.1; done')
    sup = Supervisor(tmp, cfg)
    sup.wait_log("out: ready")
    assert sup.stop() == 0
    assert "got INT" in sup.log()


def test_kill9_of_supervisor_takes_workers_with_it(tmp):
    sup = Supervisor(tmp, SLEEPER)
    sup.wait_log("up sleepers", count=3)
    pids = worker_pids(sup, "sleepers")
    assert len(pids) == 3
    sup.signal(signal.SIGKILL)
    sup.wait()
    wait_for(lambda: not any(pid_alive(p) for p in pids), timeout=2, what="workers to die")


def test_kill9_of_supervisor_takes_workers_that_changed_user_with_it(tmp):
    # The kernel clears PR_SET_PDEATHSIG when a process changes its
    # credentials: it must be set after the drop to the pool's user.
    import pwd
    import grp
    if os.geteuid() != 0:
        raise Skip("needs root to change user")
    nobody = pwd.getpwnam("nobody")
    cfg = config("supervisor") + config(
        "pool_shell", name="low", workers=2,
        extra="user = nobody\ngroup = %s" % grp.getgrgid(nobody.pw_gid).gr_name,
        command='echo up low; exec sleep 1000')
    os.chmod(tmp, 0o755)
    sup = Supervisor(tmp, cfg)
    sup.wait_log("out: up low", count=2)
    pids = worker_pids(sup, "low")
    assert len(pids) == 2
    for pid in pids:
        assert os.stat("/proc/%d" % pid).st_uid == nobody.pw_uid
    sup.signal(signal.SIGKILL)
    sup.wait()
    try:
        wait_for(lambda: not any(pid_alive(p) for p in pids), timeout=2,
                 what="workers running as nobody to die with the supervisor")
    finally:
        for pid in pids:    # survivors of a failure: no strays
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_pidfile_written_and_removed(tmp):
    pidfile = os.path.join(tmp, "mpsup.pid")
    sup = Supervisor(tmp, SLEEPER, extra_args=["--pidfile", pidfile])
    sup.wait_log("up sleepers")
    with open(pidfile) as f:
        assert int(f.read().strip()) == sup.pid
    assert sup.stop() == 0
    assert not os.path.exists(pidfile)


def test_sigusr1_reopens_log_file(tmp):
    cfg = config("supervisor", extra="log = out.log") + config(
        "pool_shell", name="ticker", workers=1,
        command='i=0; while true; do echo "tick $i"; i=$((i+1)); '
                'sleep 0.05; done')
    sup = Supervisor(tmp, cfg)
    path = os.path.join(tmp, "out.log")
    wait_for(lambda: os.path.exists(path) and "tick 3" in open(path).read(), what="ticks")
    os.rename(path, path + ".1")
    sup.signal(signal.SIGUSR1)
    wait_for(lambda: os.path.exists(path) and "tick" in open(path).read(), what="new log file")
    assert "log reopened" in open(path).read() or "log reopened" in open(path + ".1").read()
    assert sup.stop() == 0
    assert sup.log() == "", "log = out.log must not write to stdout"


def test_json_log_records(tmp):
    import json
    cfg = sleepers("log_format = json")
    sup = Supervisor(tmp, cfg)
    sup.wait_log("up sleepers", count=3)
    assert sup.stop() == 0
    recs = [json.loads(l) for l in sup.lines()]
    work = [r for r in recs if r.get("pool") == "sleepers"]
    assert len(work) == 3
    for r in work:
        assert set(["ts", "pool", "worker", "pid", "stream", "job", "line"]) <= set(r), r
        assert r["stream"] == "out" and r["job"] is None and r["line"].startswith("up sleepers")
    msgs = [r for r in recs if r.get("pool") is None]
    assert msgs and all("msg" in r for r in msgs)


def test_log_format_flag_overrides_config(tmp):
    import json
    sup = Supervisor(tmp, SLEEPER, extra_args=["--log-format", "json"])
    sup.wait_log("up sleepers", count=3)
    assert sup.stop() == 0
    for l in sup.lines():
        json.loads(l)


def test_idle_supervisor_uses_no_cpu(tmp):
    sup = Supervisor(tmp, SLEEPER)
    sup.wait_log("up sleepers", count=3)
    time.sleep(0.3)

    def ticks():
        with open("/proc/%d/stat" % sup.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    t0 = ticks()
    time.sleep(2.0)
    # An idle supervisor sleeps in the kernel: at most a tick or two of noise.
    assert ticks() - t0 <= 2
    assert sup.stop() == 0


def test_bad_config_refuses_to_start(tmp):
    cfg = "[supervisor]\nbogus = 1\n[pool:x]\ntype = stream\n"
    path = write(os.path.join(tmp, "bad.ini"), cfg)
    r = subprocess.run([MPSUP, "-c", path], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2
    assert "%s:2: unknown key 'bogus'" % path in r.stderr, r.stderr
    assert "%s:3: pool 'x': missing 'command'" % path in r.stderr, r.stderr


def test_check_command(tmp):
    bad = write(os.path.join(tmp, "bad.ini"), """[supervisor]
log_format = xml
[pool:a]
type = stream
command = ./w
workers = many
[pool:a]
[nonsense]
x = 1
[pool:b]
type = exec
restart_delay = soon
""" + "env = " + "A" * 250 + "=1\n")
    r = subprocess.run([MPSUP, "check", "-c", bad], capture_output=True, text=True, timeout=10)
    assert r.returncode == 1, r
    out = r.stdout
    for want in ("bad.ini:2: log_format: 'xml' is not one of text, json",
                 "bad.ini:6: workers: expected a whole number",
                 "bad.ini:7: duplicate pool 'a' (first at line 3)",
                 "bad.ini:8: unknown section [nonsense]",
                 "bad.ini:12: restart_delay: expected a duration",
                 "bad.ini:13: line too long"):
        assert want in out, (want, out)
    good = write(os.path.join(tmp, "good.ini"), SLEEPER)
    r = subprocess.run([MPSUP, "check", "-c", good], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and "ok" in r.stdout, r
    r = subprocess.run([MPSUP, "check", "-c", os.path.join(tmp, "missing.ini")],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1 and "missing.ini: cannot open" in r.stdout, r


if __name__ == "__main__":
    run_tests(globals())
