"""Integration tests of the exec worker (worker/exec/).

The worker runs through tests/integration/exec_worker_driver, which calls
exec_worker_main() exactly as "mpsup exec-worker" does: job lines go in on
its fd 3, result lines come out of its fd 4, and its own stdout and stderr
(the forwarded output of the jobs) go to files in the test's directory.
"""
import fcntl
import json
import os
import select
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import BUILDDIR, pid_alive, run_tests, wait_for  # noqa: E402

DRIVER = os.path.join(BUILDDIR, "tests", "integration", "exec_worker_driver")


class ExecWorker:
    """One exec worker process and the two ends of its job channel."""

    def __init__(self, tmp, *options, name="worker"):
        jobs_r, self.jobs_w = os.pipe()
        self.results_r, results_w = os.pipe()
        self.out_path = os.path.join(tmp, name + ".out")
        self.err_path = os.path.join(tmp, name + ".err")

        def move_fds():
            # Park both ends above the low fds first so the moves cannot
            # clobber each other, then put them on 3 and 4.
            a = fcntl.fcntl(jobs_r, fcntl.F_DUPFD_CLOEXEC, 10)
            b = fcntl.fcntl(results_w, fcntl.F_DUPFD_CLOEXEC, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        _workers.append(self)
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = harness.spawn([DRIVER] + list(options),
                                      stdin=open(os.devnull, "rb"),
                                      stdout=out, stderr=err,
                                      preexec_fn=move_fds, close_fds=False)
        os.close(jobs_r)
        os.close(results_w)
        self.pending = b""

    def send(self, *objs):
        """Write job or control lines (dicts or raw strings) in one write."""
        data = b""
        for o in objs:
            line = o if isinstance(o, str) else json.dumps(o)
            data += line.encode() + b"\n"
        os.write(self.jobs_w, data)

    def job(self, job_id, timeout_ms=None, **data):
        line = {"id": job_id, "data": data}
        if timeout_ms is not None:
            line["timeout_ms"] = timeout_ms
        self.send(line)

    def result(self, timeout=15.0):
        """The next result line, parsed."""
        end = time.monotonic() + timeout
        while b"\n" not in self.pending:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("no result within %.1fs" % timeout)
            r, _, _ = select.select([self.results_r], [], [], left)
            if r:
                chunk = os.read(self.results_r, 65536)
                if not chunk:
                    raise AssertionError("results closed; stderr: %r"
                                         % self.stderr())
                self.pending += chunk
        line, self.pending = self.pending.split(b"\n", 1)
        return json.loads(line)

    def run(self, job_id, timeout_ms=None, **data):
        """Submit one job and return its result object."""
        self.job(job_id, timeout_ms, **data)
        r = self.result()
        assert r["id"] == job_id, r
        assert r["ok"] is True, r
        return r["result"]

    def no_result(self, wait=0.3):
        r, _, _ = select.select([self.results_r], [], [], wait)
        assert not r and b"\n" not in self.pending, \
            "unexpected result: %r" % (self.pending + os.read(self.results_r, 4096))

    def close(self):
        os.close(self.jobs_w)

    def stdout(self):
        with open(self.out_path, "rb") as f:
            return f.read()

    def stderr(self):
        with open(self.err_path, "rb") as f:
            return f.read()


# Workers of the running test, checked for sanitizer reports at its end.
_workers = []

# Job process groups seen by the running test: they are not children of
# the test, so the harness cannot sweep them; kill_job_groups() does.
_job_groups = []


def kill_job_groups():
    while _job_groups:
        try:
            os.killpg(_job_groups.pop(), signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def read_pid(path, timeout=10):
    def get():
        try:
            with open(path) as f:
                text = f.read()
            return int(text) if text.endswith("\n") else None
        except (FileNotFoundError, ValueError):
            return None
    pid = wait_for(get, timeout=timeout, what=path)
    _job_groups.append(pid)
    return pid


def group_members(pgid):
    """Live (non-zombie) processes whose process group is pgid."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(name))
    return found


def test_args_job_reports_its_exit_code(tmp):
    w = ExecWorker(tmp)
    r = w.run("j1", args=["sh", "-c", "exit 3"])
    assert r["exit_code"] == 3 and r["signal"] is None, r
    assert r["spawn_error"] is None and r["timed_out"] is False, r
    assert r["cancelled"] is False and r["truncated"] is False, r
    assert r["stdout"] is None and r["stderr"] is None, r   # output=log
    assert isinstance(r["duration_ms"], float) and r["duration_ms"] >= 0, r
    assert w.run("j2", args=["true"])["exit_code"] == 0


def test_result_line_has_the_documented_shape(tmp):
    w = ExecWorker(tmp)
    w.job("shape", args=["true"])
    raw = wait_for(lambda: _read_into(w), what="result line")
    line = raw.split(b"\n", 1)[0].decode()
    assert line.startswith('{"id":"shape","ok":true,"result":{"exit_code":0,'
                           '"signal":null,"duration_ms":'), line
    assert line.endswith(',"stdout":null,"stderr":null,"truncated":false,'
                         '"timed_out":false,"cancelled":false,'
                         '"spawn_error":null}}'), line


def _read_into(w):
    r, _, _ = select.select([w.results_r], [], [], 0.05)
    if r:
        w.pending += os.read(w.results_r, 65536)
    return w.pending if b"\n" in w.pending else None


def test_shell_output_is_forwarded_line_by_line(tmp):
    w = ExecWorker(tmp)
    r = w.run("j", shell="echo one; printf two; echo oops >&2")
    assert r["exit_code"] == 0, r
    # The unterminated last line is completed before the result is written.
    assert w.stdout() == b"one\ntwo\n", w.stdout()
    assert w.stderr() == b"oops\n", w.stderr()


def test_capture_keeps_output_in_the_result_and_marks_truncation(tmp):
    w = ExecWorker(tmp, "--output", "capture", "--capture-max", "10")
    r = w.run("big", shell="printf 'hello world, and more'; printf 'e' >&2")
    assert r["stdout"] == "hello worl" and r["stderr"] == "e", r
    assert r["truncated"] is True, r
    r = w.run("small", shell="echo hi")
    assert r["stdout"] == "hi\n" and r["truncated"] is False, r
    assert w.stdout() == b"", "capture mode must not forward"
    w0 = ExecWorker(tmp, "--output", "capture", "--capture-max", "0",
                    name="w0")
    r = w0.run("none", shell="\\x; echo out")
    assert r["stdout"] == "" and r["stderr"] == "" and r["truncated"], r


def test_output_both_forwards_and_captures(tmp):
    w = ExecWorker(tmp, "--output=both", "--capture-max=1K")
    r = w.run("j", shell="seq 1 3; echo warn >&2")
    assert r["stdout"] == "1\n2\n3\n" and r["stderr"] == "warn\n", r
    assert w.stdout() == b"1\n2\n3\n" and w.stderr() == b"warn\n"


def test_invalid_utf8_output_is_replaced_not_fatal(tmp):
    w = ExecWorker(tmp, "--output", "capture")
    r = w.run("u", shell=r"printf '\377ok\303\251\342\202'")
    assert r["stdout"] == "\ufffdok\u00e9\ufffd\ufffd", r


def test_killing_signal_is_reported(tmp):
    w = ExecWorker(tmp)
    r = w.run("s", shell="kill -TERM $$; sleep 5")
    assert r["exit_code"] is None and r["signal"] == signal.SIGTERM, r


def test_missing_program_is_127_with_spawn_error(tmp):
    w = ExecWorker(tmp)
    r = w.run("nf", args=["mpsup-no-such-program", "x"])
    assert r["exit_code"] == 127 and r["signal"] is None, r
    assert "mpsup-no-such-program" in r["spawn_error"], r
    assert "No such file" in r["spawn_error"], r


def test_program_that_cannot_execute_is_126(tmp):
    path = harness.write(os.path.join(tmp, "notexec"), "#!/bin/sh\necho hi\n")
    os.chmod(path, 0o644)
    w = ExecWorker(tmp)
    r = w.run("ne", args=[path])
    assert r["exit_code"] == 126 and "Permission denied" in r["spawn_error"], r


def test_bad_cwd_is_a_spawn_error(tmp):
    w = ExecWorker(tmp)
    r = w.run("cwd", args=["true"], cwd=os.path.join(tmp, "missing"))
    assert r["exit_code"] == 126 and r["spawn_error"].startswith("chdir "), r


def test_env_cwd_and_stdin_reach_the_job(tmp):
    sub = os.path.join(tmp, "sub")
    os.mkdir(sub)
    w = ExecWorker(tmp, "--output", "capture")
    r = w.run("env-1", shell='echo "$FOO"; pwd; cat; echo "$MPSUP_JOB_ID";'
              ' echo "${MPSUP_JOB_FDS-unset}"; echo "${HOME+home}"',
              env={"FOO": "bar baz"}, cwd=sub, stdin="line1\nline2")
    assert r["stdout"] == "bar baz\n%s\nline1\nline2env-1\nunset\nhome\n" \
        % os.path.realpath(sub), r
    # Without "stdin" the job reads /dev/null; "env" null unsets.
    r = w.run("env-2", shell='cat; echo "${HOME-gone}"', env={"HOME": None})
    assert r["stdout"] == "gone\n", r


def test_job_path_comes_from_the_job_env(tmp):
    bindir = os.path.join(tmp, "bin")
    os.mkdir(bindir)
    prog = harness.write(os.path.join(bindir, "mpsup-test-hello"),
                         "#!/bin/sh\necho hello from path\n")
    os.chmod(prog, 0o755)
    w = ExecWorker(tmp, "--output", "capture")
    r = w.run("p", args=["mpsup-test-hello"],
              env={"PATH": bindir + ":" + os.environ.get("PATH", "/usr/bin:/bin")})
    assert r["exit_code"] == 0 and r["stdout"] == "hello from path\n", r


def test_large_stdin_and_output_do_not_deadlock(tmp):
    text = "x" * 200000 + "\n"
    w = ExecWorker(tmp, "--output", "capture", "--capture-max", "1M")
    r = w.run("cat", args=["cat"], stdin=text)
    assert r["stdout"] == text and r["truncated"] is False, len(r["stdout"])
    # A job that never reads its stdin still finishes.
    r = w.run("skip", args=["true"], stdin=text * 2)
    assert r["exit_code"] == 0, r


def test_job_has_only_fds_0_1_2_and_its_own_process_group(tmp):
    w = ExecWorker(tmp)
    pidfile = os.path.join(tmp, "pid")
    w.job("fds", shell="echo $$ > %s; exec sleep 30" % pidfile)
    pid = read_pid(pidfile)
    fds = sorted(int(x) for x in os.listdir("/proc/%d/fd" % pid))
    assert fds == [0, 1, 2], fds
    assert os.getpgid(pid) == pid, "job is not a process group leader"
    assert os.getpgid(pid) != os.getpgid(w.proc.pid)
    w.send({"cancel": "fds"})
    assert w.result()["result"]["cancelled"] is True


def test_timeout_kills_the_whole_job_tree(tmp):
    w = ExecWorker(tmp)
    pidfile = os.path.join(tmp, "pids")
    inner = os.path.join(tmp, "inner")
    script = ("sleep 100 & a=$!; sh -c 'sleep 100 & echo $! > %s; wait' & "
              "b=$!; echo $$ $a $b > %s; wait" % (inner, pidfile))
    w.job("slow", timeout_ms=1500, shell=script)
    pids = wait_for(lambda: _read_pids(pidfile), what="pids")
    pids += wait_for(lambda: _read_pids(inner), what="inner pid")
    leader = pids[0]
    assert len(group_members(leader)) == 4, group_members(leader)
    r = w.result()
    assert r["id"] == "slow", r
    res = r["result"]
    assert res["timed_out"] is True and res["signal"] == signal.SIGKILL, res
    assert res["exit_code"] is None, res
    assert 1450 <= res["duration_ms"] < 10000, res
    # Killed processes may still be closing down when the result is in.
    wait_for(lambda: group_members(leader) == [], timeout=5,
             what="job group gone")
    for pid in pids:
        assert not pid_alive(pid), pid
    # The worker goes on with the next job.
    assert w.run("next", args=["true"])["exit_code"] == 0


def _read_pids(path):
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return None
    if not text.endswith("\n"):
        return None
    pids = [int(x) for x in text.split()]
    _job_groups.append(pids[0])
    return pids


def test_leftover_background_processes_are_killed_when_the_job_ends(tmp):
    w = ExecWorker(tmp)
    pidfile = os.path.join(tmp, "bg")
    start = time.monotonic()
    r = w.run("bg", shell="sleep 100 & echo $! > %s" % pidfile)
    assert r["exit_code"] == 0, r
    assert time.monotonic() - start < 5, "job waited for its background child"
    bg = read_pid(pidfile)
    wait_for(lambda: not pid_alive(bg), timeout=5, what="background sleep gone")


def _session_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[3])


def test_a_child_in_its_own_session_dies_when_the_job_ends(tmp):
    # setsid takes the child out of the job's process group, so killing
    # the group misses it; the worker, a subreaper, gets it back and kills
    # it before it answers.
    w = ExecWorker(tmp)
    pidfile = os.path.join(tmp, "escaped")
    # The job waits until its child is in a session of its own, or the
    # group kill at its end could catch the child before setsid.
    r = w.run("esc", shell="setsid sleep 1000 & echo $! > %s; "
              "until [ \"$(cut -d' ' -f6 /proc/$!/stat)\" = $! ]; "
              "do sleep 0.05; done" % pidfile)
    assert r["exit_code"] == 0, r
    stray = read_pid(pidfile)
    wait_for(lambda: not pid_alive(stray), timeout=2,
             what="the job's setsid child gone")
    assert w.run("next", args=["true"])["exit_code"] == 0


def test_a_double_forked_child_dies_when_the_job_times_out(tmp):
    w = ExecWorker(tmp)
    pidfile = os.path.join(tmp, "escaped")
    w.job("slow", timeout_ms=1000,
          shell="(setsid sleep 1000 </dev/null >/dev/null 2>&1 & "
                "echo $! > %s); exec sleep 100" % pidfile)
    stray = read_pid(pidfile)
    # $! is written once setsid(1) is forked, maybe before it called setsid.
    wait_for(lambda: _session_of(stray) == stray, timeout=5,
             what="the stray in a session of its own")
    r = w.result()
    assert r["id"] == "slow" and r["result"]["timed_out"] is True, r
    wait_for(lambda: not pid_alive(stray), timeout=2,
             what="the job's double-forked child gone")


def test_a_double_forked_child_dies_when_the_job_is_cancelled(tmp):
    w = ExecWorker(tmp)
    pidfile = os.path.join(tmp, "escaped")
    w.job("c", shell="(setsid sleep 1000 </dev/null >/dev/null 2>&1 & "
                     "echo $! > %s); exec sleep 100" % pidfile)
    stray = read_pid(pidfile)
    w.send({"cancel": "c"})
    r = w.result()
    assert r["id"] == "c" and r["result"]["cancelled"] is True, r
    wait_for(lambda: not pid_alive(stray), timeout=2,
             what="the job's double-forked child gone")
    # Reaped too: the worker keeps no zombie children.
    children = "/proc/%d/task/%d/children" % (w.proc.pid, w.proc.pid)
    wait_for(lambda: open(children).read().split() == [], timeout=2,
             what="no children left to the worker")


def test_cancel_kills_the_running_job(tmp):
    w = ExecWorker(tmp)
    pidfile = os.path.join(tmp, "pid")
    w.job("c1", shell="sleep 100 & echo $$ > %s; wait" % pidfile)
    leader = read_pid(pidfile)
    w.send({"cancel": "someone-else"})
    w.no_result(0.2)
    w.send({"cancel": "c1"})
    r = w.result()
    assert r["id"] == "c1" and r["result"]["cancelled"] is True, r
    assert r["result"]["signal"] == signal.SIGKILL, r
    wait_for(lambda: group_members(leader) == [], timeout=5,
             what="job group gone")


def test_prefetched_jobs_queue_and_a_queued_job_can_be_cancelled(tmp):
    w = ExecWorker(tmp)
    log = os.path.join(tmp, "order")
    lines = []
    for i in range(4):
        lines.append({"id": "q%d" % i, "data": {
            "shell": "echo start %d >> %s; sleep 0.1; echo end %d >> %s"
                     % (i, log, i, log)}})
    w.send(*lines)
    w.send({"cancel": "q2"})
    first = w.result()
    # q2 was never started: its answer comes at once, before q0 ends.
    assert first["id"] == "q2" and first["result"]["cancelled"] is True, first
    assert first["result"]["exit_code"] is None, first
    ids = [w.result()["id"] for _ in range(3)]
    assert ids == ["q0", "q1", "q3"], ids
    with open(log) as f:
        order = f.read().split("\n")[:-1]
    assert order == ["start 0", "end 0", "start 1", "end 1",
                     "start 3", "end 3"], order


def test_malformed_lines_are_answered_or_logged_and_work_goes_on(tmp):
    w = ExecWorker(tmp)
    w.send('{"id":"e1","data":{"args":[]}}',
           '{"id":"e2","data":5}',
           '{"id":"e3","data":{"args":["true"],"shell":"true"}}',
           '{"id":"e4","data":{"args":["true"]},"timeout_ms":"soon"}',
           '{"id":"e5","data":{"args":["true"],"color":"red"}}',
           '{"id":"e6","data":{broken',
           'not json at all',
           '{"data":{"args":["true"]}}',
           '{"id":"ok","data":{"args":["true"]},"timeout_ms":5000,"extra":1}')
    got = {}
    for _ in range(7):
        r = w.result()
        got[r["id"]] = r
    for i in range(1, 7):
        r = got["e%d" % i]
        assert r["ok"] is False and r["error"], r
    assert "color" in got["e5"]["error"], got["e5"]
    assert got["ok"]["ok"] is True and got["ok"]["result"]["exit_code"] == 0
    w.no_result(0.2)
    err = w.stderr().decode()
    assert "malformed job line" in err, err


def test_eof_lets_the_running_and_queued_jobs_finish_then_exits_0(tmp):
    w = ExecWorker(tmp)
    w.job("a", shell="sleep 0.3; echo a")
    w.job("b", shell="echo b")
    w.close()
    assert w.result()["id"] == "a"
    assert w.result()["id"] == "b"
    assert w.proc.wait(10) == 0
    assert w.stdout() == b"a\nb\n", w.stdout()


def test_sigterm_kills_the_running_job_and_exits(tmp):
    w = ExecWorker(tmp)
    pidfile = os.path.join(tmp, "pid")
    w.job("t", shell="sleep 100 & echo $$ > %s; wait" % pidfile)
    leader = read_pid(pidfile)
    w.proc.send_signal(signal.SIGTERM)
    assert w.proc.wait(10) == 0
    wait_for(lambda: group_members(leader) == [], timeout=5,
             what="job group gone")


def test_sigterm_kills_a_running_jobs_setsid_child_too(tmp):
    w = ExecWorker(tmp)
    pidfile = os.path.join(tmp, "escaped")
    w.job("t", shell="(setsid sleep 1000 </dev/null >/dev/null 2>&1 & "
                     "echo $! > %s); exec sleep 100" % pidfile)
    stray = read_pid(pidfile)
    w.proc.send_signal(signal.SIGTERM)
    assert w.proc.wait(10) == 0
    assert not pid_alive(stray), "the job's setsid child outlived the worker"


def test_job_dies_with_a_killed_worker(tmp):
    w = ExecWorker(tmp)
    pidfile = os.path.join(tmp, "pid")
    # exec: the job's leader is sleep itself, which gets PR_SET_PDEATHSIG.
    w.job("d", shell="echo $$ > %s; exec sleep 100" % pidfile)
    leader = read_pid(pidfile)
    os.kill(w.proc.pid, signal.SIGKILL)
    w.proc.wait(10)
    wait_for(lambda: not pid_alive(leader), timeout=5, what="job died")


def test_many_jobs_leak_no_fds_and_no_children(tmp):
    w = ExecWorker(tmp)
    w.run("warm", args=["true"])
    before = len(os.listdir("/proc/%d/fd" % w.proc.pid))
    w.send(*[{"id": "m%d" % i, "data": {"args": ["true"]}} for i in range(200)])
    for i in range(200):
        r = w.result()
        assert r["id"] == "m%d" % i and r["result"]["exit_code"] == 0, r
    after = len(os.listdir("/proc/%d/fd" % w.proc.pid))
    assert after == before, (before, after)
    with open("/proc/%d/task/%d/children" % (w.proc.pid, w.proc.pid)) as f:
        assert f.read().split() == []


def test_bad_options_are_refused(tmp):
    for opts in (["--output", "nope"], ["--capture-max", "12Q"], ["--what"]):
        p = harness.spawn([DRIVER] + opts, stderr=open(os.devnull, "wb"))
        assert p.wait(10) == 2, opts


def _sweeping(fn):
    def test(tmp):
        try:
            fn(tmp)
        finally:
            kill_job_groups()
            workers = list(_workers)
            del _workers[:]
        for w in workers:
            err = w.stderr()
            assert b"Sanitizer" not in err and b"runtime error" not in err, \
                err.decode(errors="replace")
    test.__name__ = fn.__name__
    return test


if __name__ == "__main__":
    for _name, _fn in list(globals().items()):
        if _name.startswith("test_") and callable(_fn):
            globals()[_name] = _sweeping(_fn)
    run_tests(globals())
