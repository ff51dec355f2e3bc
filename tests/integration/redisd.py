"""A private redis-server for the cluster tests (Python standard library only).

    from redisd import Redisd
    with Redisd(tmp, appendonly=True) as r:     # started; stopped on exit
        r.cmd("SET", "k", "v")                  # -> "OK"
        r.cmd("GET", "k")                       # -> b"v"
        r.restart()                             # same port, same folder
        config = "cluster = %s" % r.url         # redis://127.0.0.1:PORT

Each instance runs /usr/bin/redis-server in the foreground with a
generated config in a folder of its own inside the test's folder: bound to
127.0.0.1 on a free port (found by binding port 0; another port is tried
if someone takes it first), a unix socket in the folder, no RDB snapshots
(`save ""`), AOF only if asked. Never the system's Redis.

A test failure never leaves redis-server running: the process is started
through harness.spawn() (its own process group, killed when the test
ends, pass or fail), every instance still running when Python exits is
killed by an atexit handler, and the server gets SIGKILL from the kernel
if the Python process that started it dies (PR_SET_PDEATHSIG), even by
SIGKILL. (That signal comes when the *thread* that forked the server
ends, so a server started or restarted from any thread but the main one
is forked by a thread that lasts as long as the process.)

cmd(*args) is a minimal RESP2 client: arguments are str (UTF-8), bytes or
int; replies decode to str (status), bytes (bulk), int, list, or None (nil);
an error reply raises RedisError. With a password, it sends AUTH first.
"""
import atexit
import ctypes
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

REDIS_SERVER = "/usr/bin/redis-server"
HOST = "127.0.0.1"
STOP_TIMEOUT = 5.0      # SIGTERM, then SIGKILL
START_TIMEOUT = 10.0
PORT_TRIES = 5

# Loaded before any fork: the child only calls into it.
_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1

_live = set()


class RedisError(Exception):
    """An error reply from Redis (its message, e.g. "NOAUTH ...")."""


def _die_with_parent(parent):
    """In the child before exec: SIGKILL when the test process dies."""
    def set_it():
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)
    return set_it


_forker = None
_forker_lock = threading.Lock()


def _forker_loop(q):
    while True:
        fn, done = q.get()
        try:
            done.put((True, fn()))
        except BaseException as e:  # noqa: BLE001 (raised in the caller)
            done.put((False, e))


def _in_lasting_thread(fn):
    """fn() in a thread that ends only with the process: the main one,
    or a daemon thread kept for forking (see the module's note)."""
    global _forker
    if threading.current_thread() is threading.main_thread():
        return fn()
    with _forker_lock:
        if _forker is None:
            _forker = queue.Queue()
            threading.Thread(target=_forker_loop, args=(_forker,),
                             daemon=True).start()
    done = queue.Queue()
    _forker.put((fn, done))
    ok, value = done.get()
    if not ok:
        raise value
    return value


def free_port():
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def encode(args):
    """A command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, int):
            a = str(a)
        if isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class _Reader:
    """Reads RESP2 replies from a socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("redis closed the connection")
        self.buf += data

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exactly(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exactly(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply_or_error() for _ in range(n)]
        raise ConnectionError("not a RESP reply: %r" % line[:80])

    def _reply_or_error(self):
        # An error inside an array (EXEC, scripts) is an element, not a raise.
        try:
            return self.reply()
        except RedisError as e:
            return e


class Redisd:
    """One redis-server of the test's own; see the module's docstring."""

    def __init__(self, tmpdir, port=None, password=None, appendonly=False,
                 appendfsync="everysec"):
        if appendfsync not in ("always", "everysec", "no"):
            raise ValueError("appendfsync: always, everysec or no")
        if not os.access(REDIS_SERVER, os.X_OK):
            raise RuntimeError("%s is missing: apt-get install redis-server "
                               "(the cluster tests start their own)"
                               % REDIS_SERVER)
        self.dir = tempfile.mkdtemp(prefix="redis-", dir=tmpdir)
        self.sock = os.path.join(self.dir, "redis.sock")
        self.log_path = os.path.join(self.dir, "redis.log")
        self.conf_path = os.path.join(self.dir, "redis.conf")
        self.fixed_port = port is not None
        self.port = port
        self.password = password
        self.appendonly = appendonly
        self.appendfsync = appendfsync
        self.proc = None
        self._conn = None

    # -- addresses ------------------------------------------------------
    @property
    def url(self):
        """redis://127.0.0.1:PORT, for mpsup's cluster key."""
        return "redis://%s:%d" % (HOST, self.port)

    @property
    def unix_url(self):
        """unix:PATH of its socket, for mpsup's cluster key."""
        return "unix:" + self.sock

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None else None

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    # -- life -----------------------------------------------------------
    def _write_conf(self):
        lines = [
            "bind %s" % HOST,
            "port %d" % self.port,
            "unixsocket %s" % self.sock,
            "unixsocketperm 700",
            'save ""',
            "dir %s" % self.dir,
            "daemonize no",
            "supervised no",
            "logfile %s" % self.log_path,
            "appendonly %s" % ("yes" if self.appendonly else "no"),
            "appendfsync %s" % self.appendfsync,
        ]
        if self.password is not None:
            lines.append("requirepass %s" % self.password)
        harness.write(self.conf_path, "\n".join(lines) + "\n")

    def _spawn(self):
        self._write_conf()
        self.proc = _in_lasting_thread(lambda: harness.spawn(
            [REDIS_SERVER, self.conf_path], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            cwd=self.dir, preexec_fn=_die_with_parent(os.getpid())))
        _live.add(self)

    def _ping(self):
        try:
            return self.cmd("PING") == "PONG"
        except (OSError, ConnectionError):
            self._close()
            return False
        except RedisError as e:
            if str(e).startswith("LOADING"):    # reading its AOF
                return False
            raise

    def _wait_ready(self):
        """True once it answers PING; False if it exited first."""
        end = time.monotonic() + START_TIMEOUT
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                self._reap()
                return False
            if os.path.exists(self.sock) and self._ping():
                return True
            time.sleep(0.01)
        self.kill9()
        raise AssertionError("redis-server did not answer PING within %.0fs; "
                             "its log:\n%s" % (START_TIMEOUT, self.log()[-2000:]))

    def start(self):
        """Start it and wait until it answers PING; returns self."""
        if self.proc is not None:
            raise RuntimeError("redis-server already running")
        for _ in range(PORT_TRIES):
            if not self.fixed_port and self.port is None:
                self.port = free_port()
            self._spawn()
            if self._wait_ready():
                return self
            busy = "Address already in use" in self.log()
            if self.fixed_port or not busy:
                break
            self.port = None    # taken meanwhile: another one
        raise AssertionError("redis-server on port %s did not start; its "
                             "log:\n%s" % (self.port, self.log()[-2000:]))

    def _reap(self):
        self._close()
        _live.discard(self)
        self.proc = None

    def stop(self):
        """SIGTERM, wait, SIGKILL after 5 s; reaped when this returns."""
        if self.proc is None:
            return
        self._close()
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
                self.proc.wait(STOP_TIMEOUT)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                harness.kill_group(self.proc)
                self.proc.wait(STOP_TIMEOUT)
        self._reap()

    def kill9(self):
        """SIGKILL (its whole process group), reaped when this returns."""
        if self.proc is None:
            return
        self._close()
        if self.proc.poll() is None:
            harness.kill_group(self.proc, signal.SIGKILL)
            self.proc.wait(STOP_TIMEOUT)
        self._reap()

    def restart(self):
        """Stop, then start again on the same port and folder (its AOF)."""
        self.stop()
        self.fixed_port, was_fixed = True, self.fixed_port
        try:
            return self.start()
        finally:
            self.fixed_port = was_fixed

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- the client -----------------------------------------------------
    def _close(self):
        if self._conn is not None:
            self._conn[0].close()
            self._conn = None

    def connect(self, timeout=10.0):
        """A new raw socket to its unix socket (no AUTH): for tests."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(self.sock)
        except OSError:
            s.close()
            raise
        return s

    def _connection(self):
        if self._conn is None:
            s = self.connect()
            self._conn = (s, _Reader(s))
            if self.password is not None:
                try:
                    self._call(("AUTH", self.password))
                except BaseException:
                    self._close()
                    raise
        return self._conn

    def _call(self, args):
        s, reader = self._conn
        s.sendall(encode(args))
        return reader.reply()

    def cmd(self, *args):
        """Send one command and return its decoded reply."""
        self._connection()
        try:
            return self._call(args)
        except (OSError, ConnectionError):
            self._close()
            raise


def _kill_live():
    """At exit: SIGKILL every instance not stopped (an unreaped child only:
    its pid cannot have been reused)."""
    for r in list(_live):
        if r.proc is not None and r.proc.poll() is None:
            harness.kill_group(r.proc, signal.SIGKILL)
            try:
                r.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass


atexit.register(_kill_live)


def _shut(*socks):
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class SlowReplies:
    """A TCP proxy in front of a Redisd that holds back Redis's replies
    on command connections by `delay` seconds (in order), and passes
    subscriber connections (those that send SUBSCRIBE) through at once:
    a node behind it hears of a job's end before it hears the answer to
    a command it sent earlier.

        with SlowReplies(redis, 0.6) as proxy:
            ... "cluster = %s" % proxy.url ...
    """

    def __init__(self, redis, delay):
        self.redis, self.delay = redis, delay
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind((HOST, 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.url = "redis://%s:%d" % (HOST, self.port)
        self.socks = []
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.stopped = True
        _shut(self.lsock, *self.socks)
        for s in [self.lsock] + self.socks:
            s.close()

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            u = socket.create_connection((HOST, self.redis.port))
            self.socks += [c, u]
            state = {"sub": False}
            threading.Thread(target=self._up, args=(c, u, state),
                             daemon=True).start()
            threading.Thread(target=self._down, args=(u, c, state),
                             daemon=True).start()

    def _up(self, c, u, state):
        """Client to Redis, at once; notes a subscriber."""
        try:
            while True:
                data = c.recv(65536)
                if not data:
                    break
                if b"\r\nSUBSCRIBE\r\n" in data:
                    state["sub"] = True
                u.sendall(data)
        except OSError:
            pass
        _shut(c, u)

    def _down(self, u, c, state):
        """Redis to client: each chunk `delay` after it came, in order
        (a subscriber's at once)."""
        q = queue.Queue()
        threading.Thread(target=self._later, args=(q, c, u),
                         daemon=True).start()
        try:
            while True:
                data = u.recv(65536)
                if not data:
                    break
                q.put((time.monotonic() + (0 if state["sub"] else
                                           self.delay), data))
        except OSError:
            pass
        q.put((0, b""))

    @staticmethod
    def _later(q, c, u):
        try:
            while True:
                at, data = q.get()
                if not data:
                    break
                time.sleep(max(0.0, at - time.monotonic()))
                c.sendall(data)
        except OSError:
            pass
        _shut(c, u)
