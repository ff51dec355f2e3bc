"""The ipc module against the real multiprocessing.connection of every Python
installed here (3.8 and later): handshake, framing and send/recv round trips
through tests/integration/ipc_echo_server, which authenticates with ipc/auth.c's state
machine and echoes every frame back.
"""
import glob
import os
import queue
import socket
import subprocess
import sys
import threading
import time

from harness import BUILDDIR, run_tests, spawn, write

SERVER = os.path.join(BUILDDIR, "tests", "integration", "ipc_echo_server")

# Runs under each interpreter. Client() maps every (host, port) tuple to
# AF_INET, so for [V6]:PORT it does what Client() does -- the stdlib's
# Connection, answer_challenge(), deliver_challenge() -- over AF_INET6.
CLIENT = r'''
import socket, sys
from multiprocessing import AuthenticationError
from multiprocessing import connection as mc

def connect(addr, key):
    if addr.startswith("unix:"):
        return mc.Client(addr[5:], authkey=key)
    host, port = addr.rsplit(":", 1)
    if host.startswith("["):
        s = socket.socket(socket.AF_INET6)
        s.connect((host[1:-1], int(port)))
        c = mc.Connection(s.detach())
        mc.answer_challenge(c, key)
        mc.deliver_challenge(c, key)
        return c
    return mc.Client((host, int(port)), authkey=key)

def main():
    addr, keyfile, mode = sys.argv[1:4]
    with open(keyfile, "rb") as f:
        key = f.read().strip()
    try:
        c = connect(addr, key)
    except AuthenticationError as e:
        print("AUTHFAIL %s" % e)
        return 3
    except (EOFError, OSError) as e:
        print("CONNFAIL %s: %s" % (type(e).__name__, e))
        return 4
    if mode == "echo":
        for payload in (b"", b"hello", bytes(range(256)) * 64,
                        b"x" * (3 << 20)):
            c.send_bytes(payload)
            got = c.recv_bytes()
            assert got == payload, (len(got), len(payload))
        obj = ["Hello World", 100, "\u4f60\u597d".encode("utf-8"),
               {"a": (1, 2.5, None, True)}]
        c.send(obj)
        assert c.recv() == obj
        for i in range(200):
            c.send_bytes(b"%d" % i)
        for i in range(200):
            assert c.recv_bytes() == b"%d" % i
    c.close()
    print("OK %d.%d.%d" % sys.version_info[:3])
    return 0

sys.exit(main())
'''


def keyfile(tmp, name="authkey", text="0123456789abcdef" * 4 + "\n"):
    path = os.path.join(tmp, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


class EchoServer:
    """ipc_echo_server in its own process group, its event lines queued."""

    def __init__(self, tmp, address, key, legacy=True, admin=None,
                 auth_timeout=None):
        argv = [SERVER, "-k", key]
        if legacy:
            argv.append("-l")
        if admin:
            argv += ["-a", admin]
        if auth_timeout is not None:
            argv += ["-t", str(auth_timeout)]
        argv.append(address)
        self.proc = spawn(argv, stdout=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        first = self.event()
        assert first.startswith("listening "), first
        self.address = first.split(" ", 1)[1]

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def event(self, timeout=10):
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("echo server said nothing for %ss" % timeout)
        assert line is not None, "echo server exited (rc %s)" % self.proc.poll()
        return line

    def expect(self, *events):
        for want in events:
            got = self.event()
            assert got.startswith(want), "expected %r, got %r" % (want, got)


def interpreters():
    """{version: executable} for every installed Python >= 3.8."""
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates = [sys.executable]
    candidates += sorted(glob.glob(os.path.join(root, "versions", "*", "bin",
                                                "python3")))
    candidates += sorted(glob.glob("/usr/bin/python3.[0-9]*"))
    found = {}
    for exe in candidates:
        if exe.endswith("-config") or not os.access(exe, os.X_OK):
            continue
        try:
            out = subprocess.run(
                [exe, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                capture_output=True, text=True, timeout=20).stdout.strip()
            version = tuple(int(x) for x in out.split("."))
        except (OSError, ValueError, subprocess.TimeoutExpired):
            continue
        if version >= (3, 8):
            found.setdefault(version, exe)
    return dict(sorted(found.items()))


def run_client(tmp, exe, address, key, mode="echo"):
    script = os.path.join(tmp, "client.py")
    if not os.path.exists(script):
        write(script, CLIENT)
    p = subprocess.run([exe, script, address, key, mode], capture_output=True,
                       text=True, timeout=30)
    return p.returncode, p.stdout.strip(), p.stderr.strip()


def python_is_legacy():
    return sys.version_info < (3, 12)


def roundtrip(tmp, spec):
    key = keyfile(tmp)
    srv = EchoServer(tmp, spec, key, legacy=True)
    rc, out, err = run_client(tmp, sys.executable, srv.address, key)
    assert rc == 0, (rc, out, err)
    srv.expect("auth ok role=user legacy=%d" % python_is_legacy(), "closed")
    return srv


def test_unix_socket_roundtrip(tmp):
    srv = roundtrip(tmp, "unix:" + os.path.join(tmp, "echo.sock"))
    assert srv.address == "unix:" + os.path.join(tmp, "echo.sock")


def test_tcp_ipv4_roundtrip(tmp):
    srv = roundtrip(tmp, "127.0.0.1:0")
    assert srv.address.startswith("127.0.0.1:")


def test_tcp_ipv6_roundtrip(tmp):
    srv = roundtrip(tmp, "[::1]:0")
    assert srv.address.startswith("[::1]:")


def test_wrong_key_refused_then_next_client_served(tmp):
    key = keyfile(tmp)
    bad = keyfile(tmp, "badkey", "fedcba9876543210" * 4 + "\n")
    srv = EchoServer(tmp, "127.0.0.1:0", key, legacy=True)
    rc, out, err = run_client(tmp, sys.executable, srv.address, bad, "auth")
    assert rc == 3 and "digest sent was rejected" in out, (rc, out, err)
    srv.expect("auth failed: digest mismatch", "closed")
    rc, out, err = run_client(tmp, sys.executable, srv.address, key)
    assert rc == 0, (rc, out, err)
    srv.expect("auth ok", "closed")


def test_legacy_client_refused_when_legacy_off(tmp):
    pythons = interpreters()
    old = [exe for v, exe in pythons.items() if v < (3, 12)]
    new = [exe for v, exe in pythons.items() if v >= (3, 12)]
    assert old, "no Python <= 3.11 found"
    key = keyfile(tmp)
    srv = EchoServer(tmp, "unix:" + os.path.join(tmp, "s"), key, legacy=False)
    rc, out, err = run_client(tmp, old[0], srv.address, key, "auth")
    assert rc == 3 and "digest sent was rejected" in out, (rc, out, err)
    srv.expect("auth failed: legacy MD5 client refused (set legacy_md5 = yes",
               "closed")
    for exe in new:
        rc, out, err = run_client(tmp, exe, srv.address, key)
        assert rc == 0, (exe, rc, out, err)
        srv.expect("auth ok role=user legacy=0", "closed")


def test_every_installed_python(tmp):
    pythons = interpreters()
    assert pythons, "no Python >= 3.8 found"
    key = keyfile(tmp)
    dual = EchoServer(tmp, "unix:" + os.path.join(tmp, "dual"), key,
                      legacy=True)
    tcp = EchoServer(tmp, "127.0.0.1:0", key, legacy=True)
    strict = EchoServer(tmp, "unix:" + os.path.join(tmp, "strict"), key,
                        legacy=False)
    ran = []
    for version, exe in pythons.items():
        name = ".".join(map(str, version))
        legacy = int(version < (3, 12))
        for srv in (dual, tcp):
            rc, out, err = run_client(tmp, exe, srv.address, key)
            assert rc == 0 and out == "OK " + name, (name, rc, out, err)
            srv.expect("auth ok role=user legacy=%d" % legacy, "closed")
        rc, out, err = run_client(tmp, exe, strict.address, key, "auth")
        if legacy:
            assert rc == 3, (name, rc, out, err)
            strict.expect("auth failed: legacy MD5 client refused", "closed")
        else:
            assert rc == 0, (name, rc, out, err)
            strict.expect("auth ok role=user legacy=0", "closed")
        ran.append(name)
    print("# ran under: " + ", ".join(ran), flush=True)


def test_admin_key_decides_role(tmp):
    key = keyfile(tmp)
    admin = keyfile(tmp, "adminkey", "a" * 40 + "\n")
    srv = EchoServer(tmp, "127.0.0.1:0", key, legacy=True, admin=admin)
    rc, out, err = run_client(tmp, sys.executable, srv.address, admin)
    assert rc == 0, (rc, out, err)
    srv.expect("auth ok role=admin", "closed")
    rc, out, err = run_client(tmp, sys.executable, srv.address, key)
    assert rc == 0, (rc, out, err)
    srv.expect("auth ok role=user", "closed")


def stdlib_client(address, key):
    from multiprocessing.connection import Client
    with open(key, "rb") as f:
        secret = f.read().strip()
    if address.startswith("unix:"):
        return Client(address[5:], authkey=secret)
    host, port = address.rsplit(":", 1)
    return Client((host, int(port)), authkey=secret)


def test_escape_header_and_bad_frames(tmp):
    key = keyfile(tmp)
    srv = EchoServer(tmp, "unix:" + os.path.join(tmp, "s"), key, legacy=True)

    # The -1 escape at a small size is accepted (Python 3.8+ sends it only
    # above 2 GiB but reads it at any size); the echo comes back short form.
    c = stdlib_client(srv.address, key)
    srv.expect("auth ok")
    os.write(c.fileno(), b"\xff\xff\xff\xff" + (5).to_bytes(8, "big") + b"hello")
    assert c.recv_bytes() == b"hello"
    # A frame over the server's cap closes only this connection.
    os.write(c.fileno(), b"\x7f\xff\xff\xff")
    srv.expect("protocol error: frame too large", "closed")
    try:
        c.recv_bytes()
        raise AssertionError("connection should be closed")
    except (EOFError, OSError):
        pass
    c.close()

    c = stdlib_client(srv.address, key)
    srv.expect("auth ok")
    os.write(c.fileno(), b"\xff\xff\xff\xfe")
    srv.expect("protocol error: negative frame length", "closed")
    c.close()

    # The next client is served.
    c = stdlib_client(srv.address, key)
    c.send_bytes(b"still here")
    assert c.recv_bytes() == b"still here"
    c.close()
    srv.expect("auth ok", "closed")


def test_oversized_handshake_frame_is_refused(tmp):
    key = keyfile(tmp)
    srv = EchoServer(tmp, "127.0.0.1:0", key, legacy=True)
    host, port = srv.address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        hdr = s.recv(4, socket.MSG_WAITALL)
        assert hdr == b"\x00\x00\x00\x3b", hdr
        body = s.recv(0x3b, socket.MSG_WAITALL)
        assert body.startswith(b"#CHALLENGE#{sha256}") and len(body) == 59
        s.sendall((257).to_bytes(4, "big") + b"x" * 257)
        srv.expect("protocol error: frame too large", "closed")
        assert s.recv(100) == b""


def test_silent_client_is_dropped(tmp):
    key = keyfile(tmp)
    srv = EchoServer(tmp, "127.0.0.1:0", key, legacy=True, auth_timeout=0.5)
    host, port = srv.address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        start = time.monotonic()
        assert len(s.recv(63, socket.MSG_WAITALL)) == 63
        srv.expect("auth timeout", "closed")
        assert s.recv(100) == b""
        assert time.monotonic() - start < 5
    rc, out, err = run_client(tmp, sys.executable, srv.address, key, "auth")
    assert rc == 0, (rc, out, err)
    srv.expect("auth ok", "closed")


run_tests(globals())
