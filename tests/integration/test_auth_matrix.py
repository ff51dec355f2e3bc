"""The authentication matrix of the listener (SPEC section 7, protocol note
sections 2 and 5), against the real supervisor:

  * the stock client of the Python running the tests over Unix, TCP/IPv4 and
    TCP/IPv6, with send()/recv() (pickle) and send_bytes()/recv_bytes() (JSON);
  * a hand-written peer doing the 3.12+ handshake byte for byte, and hostile
    variants of it (legacy answer with legacy off, downgrade, wrong key,
    digests stock clients never send);
  * the stock Client() of every installed Python 3.8+ with legacy_md5 off
    and on;
  * the user/admin key roles;
  * key files the supervisor must refuse at start-up.
"""
import glob
import hashlib
import hmac
import json
import os
import socket
import stat
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (MPSUP, Supervisor, connect, request, run_tests,  # noqa: E402
                     wait_for, write)

WORKER = r'''
import json, os, sys
out = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
for line in sys.stdin:
    job = json.loads(line)
    out.write(json.dumps({"id": job["id"], "ok": True, "result": {"echo": job["data"]}}) + "\n")
    out.flush()
'''

CHALLENGE = b"#CHALLENGE#"
WELCOME = b"#WELCOME#"
FAILURE = b"#FAILURE#"
SHA256 = b"{sha256}"


# --- a multiprocessing.connection peer on a plain socket -------------------

class Peer:
    """Frames and handshakes written out by hand (protocol note 1 and 2.4)."""

    def __init__(self, sock, timeout=5.0):
        self.sock = sock
        sock.settimeout(timeout)

    @classmethod
    def unix(cls, path, timeout=5.0):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(path)
        return cls(s, timeout)

    @classmethod
    def tcp(cls, host, port, source=None, timeout=5.0):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(timeout)
        if source is not None:
            s.bind((source, 0))
        s.connect((host, port))
        return cls(s, timeout)

    def send_raw(self, data):
        self.sock.sendall(data)

    def send_frame(self, payload):
        self.sock.sendall(struct.pack("!i", len(payload)) + payload)

    def recv_exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise EOFError("EOF after %d of %d bytes" % (len(data), n))
            data += chunk
        return data

    def recv_frame(self):
        n, = struct.unpack("!i", self.recv_exact(4))
        if n == -1:
            n, = struct.unpack("!Q", self.recv_exact(8))
        assert n >= 0, "server sent a negative length %d" % n
        return self.recv_exact(n)

    def closed_by_server(self, timeout=5.0):
        """Wait for EOF (or a reset); return (bytes read before it, seconds)."""
        start = time.monotonic()
        self.sock.settimeout(timeout)
        data = b""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass
        except socket.timeout:
            raise AssertionError("server did not close the connection within %.1fs "
                                 "(read %r)" % (timeout, data[:80]))
        return data, time.monotonic() - start

    def request(self, obj):
        self.send_frame(json.dumps(obj).encode())
        return json.loads(self.recv_frame())

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # The handshake, client side (Client(): answer, then challenge).

    def read_challenge(self):
        """Step 1: exactly #CHALLENGE#{sha256} + 40 bytes, 63 bytes on the wire."""
        hdr = self.recv_exact(4)
        assert hdr == struct.pack("!i", 59), "challenge header %r" % hdr
        msg = self.recv_exact(59)
        assert msg.startswith(CHALLENGE + SHA256), msg
        return msg[len(CHALLENGE):]

    def answer(self, key, body, form="sha256"):
        """Step 2 in one of the forms below; returns what the server said."""
        if form == "sha256":        # Python 3.12+
            resp = SHA256 + hmac.new(key, body, hashlib.sha256).digest()
        elif form == "md5":         # Python <= 3.11: raw 16 bytes
            resp = hmac.new(key, body, hashlib.md5).digest()
        elif form == "{md5}":
            resp = b"{md5}" + hmac.new(key, body, hashlib.md5).digest()
        elif form == "{sha384}":
            resp = b"{sha384}" + hmac.new(key, body, hashlib.sha384).digest()
        elif form == "raw-sha256":
            resp = hmac.new(key, body, hashlib.sha256).digest()
        elif form == "sha256-without-prefix":
            resp = SHA256 + hmac.new(key, body[len(SHA256):], hashlib.sha256).digest()
        else:
            raise ValueError(form)
        self.send_frame(resp)
        return self.recv_frame()

    def challenge_server(self, key, legacy=False):
        """Steps 4-6: challenge the server, check its answer, say #WELCOME#."""
        if legacy:
            body = os.urandom(20)
            want = hmac.new(key, body, hashlib.md5).digest()
        else:
            body = SHA256 + os.urandom(40)
            want = SHA256 + hmac.new(key, body, hashlib.sha256).digest()
        self.send_frame(CHALLENGE + body)
        got = self.recv_frame()
        assert got == want, "server's answer %r, expected %r" % (got, want)
        self.send_frame(WELCOME)

    def handshake(self, key, legacy=False):
        body = self.read_challenge()
        verdict = self.answer(key, body, "md5" if legacy else "sha256")
        assert verdict == WELCOME, verdict
        self.challenge_server(key, legacy)
        return self


# --- set-up ----------------------------------------------------------------

def free_port(family=socket.AF_INET, host="127.0.0.1"):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_key(path, text="0123456789abcdef" * 4 + "\n", mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def config(tmp, listen="unix:mpsup.sock", legacy=False, extra=""):
    write(os.path.join(tmp, "w.py"), WORKER)
    return harness.config(
        "supervisor", listen=listen, legacy_md5="yes" if legacy else "no",
        extra=extra) + harness.config("pool_python", name="echo", workers=2)


def start(tmp, listen="unix:mpsup.sock", legacy=False, extra=""):
    """A supervisor whose listeners are all up, and its (user) key."""
    sup = Supervisor(tmp, config(tmp, listen, legacy, extra))
    n = len([a for a in listen.split(",") if a.strip()])
    sup.wait_log("listening on", count=n)
    key_path = os.path.join(tmp, "authkey")
    wait_for(lambda: os.path.exists(key_path), what="authkey file")
    with open(key_path, "rb") as f:
        return sup, f.read().strip()


def submit_wait(data):
    return {"op": "submit", "pool": "echo", "data": data, "wait": True, "timeout": 20}


def check_pickle_and_json(c, tag):
    """One submit-and-wait as a pickled dict, one as JSON, on connection c."""
    c.send(submit_wait({"via": "pickle", "tag": tag, "b": b"\x00\xff"}))
    r = c.recv()
    assert r["ok"] is True and r["job"]["state"] == "done", (tag, r)
    assert r["job"]["result"] == {"echo": {"via": "pickle", "tag": tag, "b": b"\x00\xff"}}, (tag, r)
    r = request(c, submit_wait({"via": "json", "tag": tag}))
    assert r["ok"] is True and r["job"]["state"] == "done", (tag, r)
    assert r["job"]["result"] == {"echo": {"via": "json", "tag": tag}}, (tag, r)


# --- the stock client of this Python, every transport ----------------------

def test_stock_client_over_unix_tcp4_tcp6_with_pickle_and_json(tmp):
    """Proves: the stock Client of the interpreter running the tests (3.11
    here, hence legacy_md5 = yes) authenticates and is served over every
    transport, with both request encodings."""
    from multiprocessing.connection import (Client, Connection, answer_challenge,
                                            deliver_challenge)
    p4, p6 = free_port(), free_port(socket.AF_INET6, "::1")
    sup, key = start(tmp, "unix:mpsup.sock, 127.0.0.1:%d, [::1]:%d" % (p4, p6), legacy=True)
    print("# client: Python %d.%d.%d" % sys.version_info[:3])
    c = Client(os.path.join(tmp, "mpsup.sock"), authkey=key)
    check_pickle_and_json(c, "unix")
    c.close()
    c = Client(("127.0.0.1", p4), authkey=key)
    check_pickle_and_json(c, "tcp4")
    c.close()
    # Client() has no IPv6 form: do what it does over an AF_INET6 socket.
    s = socket.create_connection(("::1", p6), timeout=10)
    s.settimeout(None)
    c = Connection(s.detach())
    answer_challenge(c, key)
    deliver_challenge(c, key)
    check_pickle_and_json(c, "tcp6")
    c.close()
    assert sup.stop() == 0


# --- the 3.12+ handshake written out, and its hostile variants ---------------

def test_modern_handshake_byte_for_byte_with_legacy_off(tmp):
    """Proves: with legacy_md5 = no the server sends #CHALLENGE#{sha256}+40
    fresh random bytes, accepts {sha256}+HMAC-SHA256 over {sha256}||nonce,
    answers our {sha256} challenge correctly, and then serves requests --
    over Unix and TCP. Runs whatever the local Python is."""
    port = free_port()
    sup, key = start(tmp, "unix:mpsup.sock, 127.0.0.1:%d" % port)
    nonces = set()
    for make in (lambda: Peer.unix(os.path.join(tmp, "mpsup.sock")),
                 lambda: Peer.tcp("127.0.0.1", port)):
        p = make()
        body = p.read_challenge()
        assert len(body) == 48
        nonces.add(body[8:])
        assert p.answer(key, body) == WELCOME
        p.challenge_server(key)
        r = p.request(submit_wait([1, "x"]))
        assert r["ok"] and r["job"]["result"] == {"echo": [1, "x"]}, r
        # Pipelined requests on the hand-made connection come back in order.
        for i in range(5):
            p.send_frame(json.dumps(submit_wait(i)).encode())
        for i in range(5):
            assert json.loads(p.recv_frame())["job"]["result"] == {"echo": i}
        p.close()
    assert len(nonces) == 2, "the server reused its nonce"
    assert sup.stop() == 0


def test_legacy_answer_refused_when_legacy_off(tmp):
    """Proves: a raw 16-byte HMAC-MD5 answer (what Python <= 3.11 sends) with
    the right key gets #FAILURE# and a closed connection when legacy_md5 = no,
    and the refusal is logged with the legacy_md5 hint. Also refused: answers
    no stock client sends to a {sha256} challenge, and a MAC that leaves out
    the {sha256} prefix."""
    sup, key = start(tmp)
    path = os.path.join(tmp, "mpsup.sock")
    p = Peer.unix(path)
    assert p.answer(key, p.read_challenge(), "md5") == FAILURE
    data, _ = p.closed_by_server()
    assert data == b"", data
    p.close()
    line = sup.wait_log("legacy_md5")[0]
    assert "authentication failed" in line or "refused" in line, line
    for form in ("{md5}", "{sha384}", "raw-sha256", "sha256-without-prefix"):
        p = Peer.unix(path)
        verdict = p.answer(key, p.read_challenge(), form)
        assert verdict == FAILURE, (form, verdict)
        assert p.closed_by_server()[0] == b""
        p.close()
    # The right answer still works.
    p = Peer.unix(path).handshake(key)
    assert p.request({"op": "status"})["ok"] is True
    p.close()
    assert sup.stop() == 0


def test_legacy_handshake_accepted_only_with_legacy_on(tmp):
    """Proves (positive control for the refusals above): with legacy_md5 = yes
    the whole <= 3.11 handshake works -- raw MD5 answer, then a 20-byte
    challenge answered with raw HMAC-MD5."""
    sup, key = start(tmp, legacy=True)
    p = Peer.unix(os.path.join(tmp, "mpsup.sock")).handshake(key, legacy=True)
    r = p.request(submit_wait("old"))
    assert r["job"]["result"] == {"echo": "old"}, r
    p.close()
    assert sup.stop() == 0


def test_no_downgrade_after_sha256_answer(tmp):
    """Proves: a client that answered with SHA-256 and then challenges with
    the 20-byte legacy form gets no MD5 answer (so nobody can use the server
    as an HMAC-MD5 oracle after a modern answer): the connection is closed --
    even with legacy_md5 = yes, where MD5 itself is allowed."""
    for legacy in (True, False):
        sub = os.path.join(tmp, "legacy-%s" % legacy)
        os.mkdir(sub)
        sup, key = start(sub, legacy=legacy)
        p = Peer.unix(os.path.join(sub, "mpsup.sock"))
        assert p.answer(key, p.read_challenge()) == WELCOME
        p.send_frame(CHALLENGE + os.urandom(20))
        data, _ = p.closed_by_server()
        assert data == b"", "server answered a downgraded challenge: %r" % data
        p.close()
        sup.wait_log("downgrade")
        # Nobody else is affected.
        p = Peer.unix(os.path.join(sub, "mpsup.sock")).handshake(key)
        assert p.request({"op": "status"})["ok"] is True
        p.close()
        assert sup.stop() == 0


def test_wrong_key_refused_then_next_good_client_served(tmp):
    """Proves: a wrong key gets #FAILURE# (hand-made peer) or
    AuthenticationError (stock Client), and the very next good client is
    served."""
    from multiprocessing import AuthenticationError
    from multiprocessing.connection import Client
    port = free_port()
    sup, key = start(tmp, "unix:mpsup.sock, 127.0.0.1:%d" % port, legacy=True)
    wrong = b"f" * 64
    assert wrong != key
    p = Peer.tcp("127.0.0.1", port)
    assert p.answer(wrong, p.read_challenge()) == FAILURE
    assert p.closed_by_server()[0] == b""
    p.close()
    try:
        Client(os.path.join(tmp, "mpsup.sock"), authkey=wrong)
    except AuthenticationError:
        pass
    else:
        raise AssertionError("a wrong key was accepted")
    sup.wait_log("authentication failed", count=2)
    c = connect(tmp)
    check_pickle_and_json(c, "after wrong key")
    c.close()
    c = Client(("127.0.0.1", port), authkey=key)
    check_pickle_and_json(c, "after wrong key, tcp")
    c.close()
    assert sup.stop() == 0


# --- every installed Python's stock Client ---------------------------------

VERSION_CLIENT = r'''
import json, sys
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client
path, keyfile = sys.argv[1:3]
with open(keyfile, "rb") as f:
    key = f.read().strip()
v = "%d.%d.%d" % sys.version_info[:3]
try:
    c = Client(path, authkey=key)
except AuthenticationError as e:
    print("AUTHFAIL", v, e)
    sys.exit(3)
c.send_bytes(json.dumps({"op": "submit", "pool": "echo", "data": v, "wait": True,
                         "timeout": 20}).encode())
r = json.loads(c.recv_bytes())
assert r["ok"] and r["job"]["result"] == {"echo": v}, r
c.send({"op": "submit", "pool": "echo", "data": [v, b"b"], "wait": True, "timeout": 20})
r = c.recv()
assert r["ok"] and r["job"]["result"] == {"echo": [v, b"b"]}, r
c.close()
print("OK", v)
'''


def interpreters():
    """[(version tuple, executable)] for each installed Python 3.8+, pyenv's
    and the one running the tests, one per full version."""
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    found = {}
    for exe in [sys.executable] + sorted(glob.glob(os.path.join(root, "versions", "*", "bin", "python3"))):
        if not os.access(exe, os.X_OK):
            continue
        try:
            out = subprocess.run([exe, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                                 capture_output=True, text=True, timeout=20, env=clean_env()).stdout
            version = tuple(int(x) for x in out.strip().split("."))
        except (OSError, ValueError, subprocess.TimeoutExpired):
            continue
        if version >= (3, 8):
            found.setdefault(version, exe)
    return sorted(found.items())


def clean_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def test_stock_client_of_every_installed_python(tmp):
    """Proves: the stock Client() of 3.12+ works with legacy_md5 = no; that of
    <= 3.11 needs legacy_md5 = yes (refused, logged with the hint, without
    it); with legacy_md5 = yes every version works. Versions not installed
    are skipped; the ones that ran are listed."""
    script = write(os.path.join(tmp, "client.py"), VERSION_CLIENT)
    found = interpreters()
    assert found, "no Python 3.8+ found (not even this one)"
    print("# ran under: " + ", ".join("%d.%d.%d" % v for v, _ in found))
    missing = [m for m in ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13")
               if not any("%d.%d" % v[:2] == m for v, _ in found)]
    if missing:
        print("# not installed, skipped: " + ", ".join(missing))
    sups = {}
    for legacy in (False, True):
        sub = os.path.join(tmp, "legacy-%s" % ("on" if legacy else "off"))
        os.mkdir(sub)
        sups[legacy] = (sub,) + start(sub, legacy=legacy)
    refused = 0
    for version, exe in found:
        for legacy in (False, True):
            sub, sup, _ = sups[legacy]
            p = subprocess.run([exe, script, os.path.join(sub, "mpsup.sock"),
                                os.path.join(sub, "authkey")],
                               capture_output=True, text=True, timeout=60, env=clean_env())
            vs = "%d.%d.%d" % version
            what = "Python %s, legacy_md5 %s: rc %d, %r %r" % (
                vs, "on" if legacy else "off", p.returncode, p.stdout, p.stderr[-400:])
            if legacy or version >= (3, 12):
                assert p.returncode == 0 and p.stdout.strip() == "OK " + vs, what
            else:
                assert p.returncode == 3 and p.stdout.startswith("AUTHFAIL"), what
                refused += 1
    sup_off = sups[False][1]
    if refused:
        sup_off.wait_log("legacy_md5", count=refused)
    for legacy in (False, True):
        assert sups[legacy][1].stop() == 0


# --- roles ---------------------------------------------------------------

def test_admin_key_decides_role(tmp):
    """Proves: with admin_authkey_file set, the plain key gets "forbidden"
    for stop/pause/resume/scale/reload (and none of them takes effect), while
    submit/status/result/cancel work for it; the admin key may do all."""
    admin_path = os.path.join(tmp, "admin.key")
    r = subprocess.run([MPSUP, "keygen", admin_path], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r
    assert stat.S_IMODE(os.stat(admin_path).st_mode) == 0o600
    sup, key = start(tmp, legacy=True, extra="admin_authkey_file = admin.key")
    admin_key = open(admin_path, "rb").read().strip()
    assert len(admin_key) == 64 and admin_key != key
    user = connect(tmp)
    admin = connect(tmp, authkey="admin.key")

    def workers():
        st = request(user, {"op": "status"})["status"]
        return st["pools"][0]

    before = workers()
    assert len(before["workers"]) == 2 and before["paused"] is False, before
    for req in ({"op": "pause", "pool": "echo"}, {"op": "scale", "pool": "echo", "workers": 1},
                {"op": "resume", "pool": "echo"}, {"op": "reload"}, {"op": "stop"}):
        r = request(user, req)
        assert r["ok"] is False and r["error"] == "forbidden" and r.get("message"), (req, r)
        user.send(req)     # the same, pickled
        r = user.recv()
        assert r["ok"] is False and r["error"] == "forbidden", (req, r)
    # None of it happened: still running, not paused, still 2 workers.
    assert sup.proc.poll() is None
    after = workers()
    assert after["paused"] is False and len(after["workers"]) == 2, after
    assert "reloaded " not in sup.log()
    # What the plain key may do.
    r = request(user, submit_wait("u"))
    assert r["ok"] and r["job"]["result"] == {"echo": "u"}, r
    r = request(user, {"op": "result", "id": r["id"]})
    assert r["ok"] and r["job"]["state"] == "done", r
    assert request(admin, {"op": "pause", "pool": "echo"})["ok"] is True
    jid = request(user, {"op": "submit", "pool": "echo", "data": "c"})["id"]
    r = request(user, {"op": "cancel", "id": jid})
    assert r["ok"] is True and r["state"] == "cancelled", r
    assert request(user, {"op": "result", "id": jid})["job"]["state"] == "cancelled"
    # The admin key may do everything else.
    assert workers()["paused"] is True
    assert request(admin, {"op": "resume", "pool": "echo"})["ok"] is True
    assert workers()["paused"] is False
    assert request(admin, {"op": "scale", "pool": "echo", "workers": 1})["ok"] is True
    wait_for(lambda: len(workers()["workers"]) == 1, what="scaled to 1 worker")
    r = request(admin, {"op": "reload"})
    assert r["ok"] is True, r
    sup.wait_log("reloaded ")
    r = request(admin, submit_wait("a"))
    assert r["ok"] and r["job"]["result"] == {"echo": "a"}, r
    admin.send({"op": "stop"})
    assert admin.recv()["ok"] is True
    assert sup.wait(20) == 0


# --- key files refused at start-up -------------------------------------------

def test_bad_key_files_refused_at_startup(tmp):
    """Proves: an empty (or whitespace-only) key file, a key under 16 bytes,
    and a group- or world-readable key file -- as authkey_file or as
    admin_authkey_file -- make the supervisor exit 2 with a message naming
    the file; a 16-byte 0600 key (the boundary) is accepted."""
    good = "0123456789abcdef" * 4 + "\n"
    cases = [
        ("empty", "", 0o600, "empty"),
        ("blank", " \n\n", 0o600, "empty"),
        ("short", "0123456789abcde\n", 0o600, "short"),
        ("group", good, 0o640, "group"),
        ("world", good, 0o604, "others"),
    ]
    n = 0
    for which in ("authkey_file", "admin_authkey_file"):
        for name, text, mode, why in cases:
            n += 1
            sub = os.path.join(tmp, "case%d" % n)
            os.mkdir(sub)
            keyname = "%s-%s.key" % (which.split("_")[0], name)
            make_key(os.path.join(sub, keyname), text, mode)
            if which == "authkey_file":
                extra = "authkey_file = %s" % keyname
            else:
                make_key(os.path.join(sub, "authkey"), good)
                extra = "admin_authkey_file = %s" % keyname
            sup = Supervisor(sub, config(sub, extra=extra))
            rc = sup.wait(10)
            err = open(sup.stderr_path).read()
            what = "%s %s: rc %s, stderr %r" % (which, name, rc, err)
            assert rc == 2, what
            assert keyname in err and why in err, what
            assert not os.path.exists(os.path.join(sub, "mpsup.sock")), what
    # Boundary: exactly 16 bytes (after stripping), mode 0600, works.
    sub = os.path.join(tmp, "ok16")
    os.mkdir(sub)
    make_key(os.path.join(sub, "k16"), "0123456789abcdef\n")
    sup = Supervisor(sub, config(sub, extra="authkey_file = k16"))
    wait_for(lambda: os.path.exists(os.path.join(sub, "mpsup.sock")), what="listener socket")
    p = Peer.unix(os.path.join(sub, "mpsup.sock")).handshake(b"0123456789abcdef")
    assert p.request({"op": "status"})["ok"] is True
    p.close()
    assert sup.stop() == 0


if __name__ == "__main__":
    run_tests(globals(), timeout=120)
