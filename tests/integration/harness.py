"""Test harness for mpsup's integration tests (Python standard library only).

Each test module defines functions named test_*; run_tests() runs them in
order and prints TAP, so automake counts every case. Every test gets its own
temporary directory and a hard timeout; every process a test starts is put in
its own process group and killed (group and all) when the test ends, pass or
fail, so a failed run never leaves strays behind.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback

MPSUP = os.environ.get("MPSUP") or os.path.join(os.getcwd(), "mpsup")
SRCDIR = os.environ.get("MPSUP_SRCDIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILDDIR = os.environ.get("MPSUP_BUILDDIR") or os.getcwd()

_procs = []


def _sanitized():
    try:
        with open(MPSUP, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


# True when the binary under test is built with --enable-sanitizers, which
# makes it (and its C workers) several times slower.
SANITIZED = _sanitized()


def _wrapped():
    try:
        with open(MPSUP, "rb") as f:
            return f.read(2) == b"#!"
    except OSError:
        return False


# True when MPSUP is a script that runs the binary under a tool (CI runs
# some files under Valgrind this way). With SANITIZED: freed memory is held
# back in quarantine, so RSS says nothing about what mpsup keeps.
WRAPPED = _wrapped()
MEMORY_TOOL = SANITIZED or WRAPPED


class TestTimeout(Exception):
    pass


class Skip(Exception):
    """Raise in a test that cannot run here; TAP reports it as skipped."""


def spawn(argv, **kw):
    """Start argv in a new session (own process group); killed at test end."""
    kw.setdefault("start_new_session", True)
    p = subprocess.Popen(argv, **kw)
    _procs.append(p)
    return p


def kill_group(p, sig=signal.SIGKILL):
    try:
        os.killpg(p.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _proc_ids():
    """(pid, ppid, sid) of every process."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        out.append((int(entry), int(fields[1]), int(fields[3])))
    return out


def kill_sessions(sids):
    """SIGKILL every process left in the given sessions."""
    for pid, _, sid in _proc_ids():
        if sid in sids and pid != os.getpid():
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _cleanup():
    while _procs:
        p = _procs.pop()
        if p.poll() is None:
            # mpsup starts each worker in a session of its own: what a
            # worker left behind is found there once mpsup is gone.
            sids = {sid for _, ppid, sid in _proc_ids() if ppid == p.pid}
            kill_group(p)
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass
            kill_sessions(sids - {os.getsid(0)})
        else:
            # The leader is gone; sweep whatever is left in its group.
            kill_group(p)
        for f in (p.stdin, p.stdout, p.stderr):
            if f:
                try:
                    f.close()
                except OSError:
                    pass


def wait_for(pred, timeout=10.0, interval=0.02, what="condition"):
    """Poll pred() until it returns a true value; return it or fail."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


# Configurations several tests share, as INI files with {placeholders}.
CONFIGS = os.path.join(SRCDIR, "tests", "integration", "configs")

# What config() fills unless the test gives a value.
CONFIG_DEFAULTS = {
    "listen": "unix:mpsup.sock",    # in the test's folder, where mpsup runs
    "status": "",                   # no HTTP endpoint
    "legacy_md5": "no",
    "extra": "",                    # more keys for the section
    "python": sys.executable,
    "echo_worker": os.path.join(BUILDDIR, "examples", "echo_worker"),
}


def config(file, /, **values):
    """The text of configs/FILE.ini with its {placeholders} filled.

    values fill placeholders, CONFIG_DEFAULTS the others; a placeholder
    left without a value, or a value for none, is an error. The comment
    lines at the top of the file (what it is for) are left out. Sections
    join with +: config("supervisor") + config("pool_exec", name="sh",
    workers=1).
    """
    import string
    path = os.path.join(CONFIGS, file + ".ini")
    with open(path) as f:
        lines = f.read().splitlines(True)
    while lines and lines[0].startswith(";"):
        lines.pop(0)
    text = "".join(lines)
    fields = {f for _, f, _, _ in string.Formatter().parse(text) if f}
    unused = set(values) - fields
    if unused:
        raise TypeError("%s has no placeholder %s" % (path, ", ".join(sorted(unused))))
    fill = dict(CONFIG_DEFAULTS, **values)
    missing = fields - set(fill)
    if missing:
        raise TypeError("%s needs a value for %s" % (path, ", ".join(sorted(missing))))
    return text.format_map(fill)


def run_tests(module_globals, timeout=60):
    tests = [(n, f) for n, f in module_globals.items()
             if n.startswith("test_") and callable(f)]
    only = os.environ.get("TEST_ONLY")
    if only:
        tests = [(n, f) for n, f in tests if only in n]
    print("1..%d" % len(tests), flush=True)
    failed = 0

    def on_alarm(signum, frame):
        raise TestTimeout("test exceeded %ds" % timeout)

    signal.signal(signal.SIGALRM, on_alarm)
    for i, (name, fn) in enumerate(tests, 1):
        cwd = os.getcwd()
        with tempfile.TemporaryDirectory(prefix="mpsup-test-") as tmp:
            os.chdir(tmp)
            signal.alarm(timeout)
            skipped = None
            try:
                fn(tmp)
                ok = True
            except Skip as e:
                ok = True
                skipped = str(e) or "cannot run here"
            except BaseException:
                ok = False
                for line in traceback.format_exc().splitlines():
                    print("# " + line)
            finally:
                signal.alarm(0)
                _cleanup()
                os.chdir(cwd)
        if not ok:
            failed += 1
        print("%s %d - %s%s" % ("ok" if ok else "not ok", i, name,
                                " # SKIP " + skipped if skipped else ""), flush=True)
    sys.exit(1 if failed else 0)


class Supervisor:
    """A running `mpsup -c CONFIG` whose log goes to a file."""

    def __init__(self, tmp, config_text, extra_args=(), log_name="mpsup.log",
                 prefix=()):
        # prefix: a command that execs mpsup (setpriv to start it as
        # another user), so the pid is still mpsup's.
        self.tmp = tmp
        self.config = write(os.path.join(tmp, "pool.ini"), config_text)
        self.log_path = os.path.join(tmp, log_name)
        self.stderr_path = os.path.join(tmp, "stderr.txt")
        self._stdout = open(self.log_path, "ab")
        self._stderr = open(self.stderr_path, "ab")
        self.proc = spawn(list(prefix) + [MPSUP, "-c", self.config] +
                          list(extra_args),
                          stdout=self._stdout, stderr=self._stderr,
                          stdin=subprocess.DEVNULL, cwd=tmp)
        self.pid = self.proc.pid

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def lines(self):
        return self.log().splitlines()

    def wait_log(self, pattern, count=1, timeout=10.0):
        """Wait until pattern (a substring or callable on a line) matched count lines."""
        if callable(pattern):
            match = pattern
        else:
            def match(line):
                return pattern in line

        def matches():
            found = [l for l in self.lines() if match(l)]
            return found if len(found) >= count else None
        return wait_for(matches, timeout=timeout,
                        what="%d log line(s) matching %r" % (count, pattern))

    def signal(self, sig):
        os.kill(self.pid, sig)

    def wait(self, timeout=15.0):
        try:
            return self.proc.wait(timeout)
        finally:
            self._stdout.close()
            self._stderr.close()

    def stop(self, timeout=15.0):
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
        return self.wait(timeout)


def worker_pids(sup, pool):
    """Pids of the pool's live worker processes (children of the supervisor)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
            with open("/proc/%s/environ" % entry, "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] == "Z" or int(fields[1]) != sup.pid:
            continue
        if ("MPSUP_POOL=%s" % pool).encode() in env:
            pids.append(int(entry))
    return sorted(pids)


def rss_kib(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s for pid %d" % (field, pid))


def connect(tmp, sock="mpsup.sock", authkey="authkey", timeout=10.0):
    """A stock multiprocessing.connection client to a supervisor in tmp."""
    from multiprocessing.connection import Client
    path = os.path.join(tmp, sock)
    end = time.monotonic() + timeout
    wait_for(lambda: os.path.exists(path), timeout=timeout, what="listener socket")
    with open(os.path.join(tmp, authkey), "rb") as f:
        key = f.read().strip()
    while True:
        try:
            return Client(path, authkey=key)
        except (ConnectionRefusedError, FileNotFoundError):
            # Bound but not yet listening (a slow start, e.g. Valgrind),
            # or a restart replacing a killed supervisor's stale socket.
            if time.monotonic() > end:
                raise
            time.sleep(0.02)


def request(conn, obj):
    """Send one JSON request with send_bytes and return the decoded reply."""
    import json
    conn.send_bytes(json.dumps(obj).encode())
    return json.loads(conn.recv_bytes())


def check_invariant(status):
    """submitted = delayed + queued + running + done + failed + timed_out
    + cancelled."""
    for p in status["pools"]:
        j = p["jobs"]
        total = (j["delayed"] + j["queued"] + j["running"] + j["done"]
                 + j["failed"] + j["timed_out"] + j["cancelled"])
        assert j["submitted"] == total, (p["name"], j)
