"""Talking to a supervisor: addresses, the handshake, requests and replies.

mpsup's listener speaks the wire protocol of multiprocessing.connection
(length-prefixed frames, mutual HMAC challenge-response). This module
speaks it itself, always in the SHA-256 form of Python 3.12, so a client
on any Python from 3.8 up authenticates without the supervisor's
legacy_md5. Requests and replies are JSON objects, one frame each.

Client is the blocking, one-request-at-a-time API. Channel pipelines: any
thread sends, one reader thread matches each reply to its request (the
supervisor answers in request order) and calls that request's callback.
Pool and Executor are built on Channel.
"""
import collections
import hashlib
import hmac
import json
import multiprocessing
import os
import socket
import struct
import threading
import traceback
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple, Union

__all__ = ["Error", "RemoteError", "AuthenticationError", "Client",
           "resolve"]

_CHALLENGE = b"#CHALLENGE#"
_WELCOME = b"#WELCOME#"
_FAILURE = b"#FAILURE#"
_DIGESTS = ("sha256", "sha384", "sha3_256", "sha3_384", "md5")
_HANDSHAKE_MAX = 256
_REPLY_MAX = 1 << 31            # a reply this large is not mpsup's
_READ_SIZE = 1 << 18

Address = Union[str, Tuple[str, int]]


class Error(Exception):
    """A request mpsup refused or could not answer.

    code is the protocol's error code ("unknown_pool", "queue_full",
    "timeout", "forbidden", ...), or one of the client's own:
    "connection" (cannot connect, or the connection was lost),
    "terminated" (Pool.terminate() stopped the call's input),
    "authentication" (the key was refused), "config" (no address or key).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__("%s: %s" % (code, message))
        self.code = code
        self.message = message


class AuthenticationError(Error, multiprocessing.AuthenticationError):
    """The supervisor refused the key (or answered with the wrong one)."""

    def __init__(self, message: str) -> None:
        Error.__init__(self, "authentication", message)


class RemoteError(Exception):
    """A job failed in a way that has no built-in exception type.

    type_name is the exception's qualified name as the worker saw it
    ("tasks.MyError"), or the job's state ("failed", "timed_out",
    "cancelled") when the job ended without an exception of the function
    (its worker died, it timed out, it was cancelled); message is its
    text; traceback the worker's traceback, or "" when there is none;
    job is the job's record as the supervisor keeps it.
    """

    def __init__(self, type_name: str, message: str, traceback: str = "",
                 job: Optional[dict] = None) -> None:
        super().__init__("%s: %s" % (type_name, message) if message
                         else type_name)
        self.type_name = type_name
        self.message = message
        self.traceback = traceback
        self.job = job

    def __str__(self) -> str:
        text = super().__str__()
        if self.traceback:
            text += "\n\nRemote traceback:\n" + self.traceback.rstrip()
        return text


def parse_address(address: Address) -> Tuple[int, Any]:
    """(socket family, sockaddr) for "unix:PATH", "HOST:PORT", "[V6]:PORT",
    a (host, port) tuple, or a path (anything with a "/")."""
    if isinstance(address, tuple):
        return socket.AF_INET, (address[0], int(address[1]))
    if not isinstance(address, str) or not address:
        raise Error("config", "address must be a non-empty string or a "
                    "(host, port) tuple, not %r" % (address,))
    if address.startswith("unix:"):
        return socket.AF_UNIX, address[5:]
    if "/" in address:
        return socket.AF_UNIX, address
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise Error("config", "address %r: want unix:PATH, HOST:PORT or "
                    "[V6]:PORT" % address)
    if host.startswith("[") and host.endswith("]"):
        return socket.AF_INET6, (host[1:-1], int(port))
    return socket.AF_INET, (host, int(port))


def _read_key(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            key = f.read().rstrip()
    except OSError as e:
        raise Error("config", "cannot read the authkey file %s: %s"
                    % (path, e.strerror or e))
    if not key:
        raise Error("config", "the authkey file %s is empty" % path)
    return key


def _from_config(path: str) -> Tuple[str, str]:
    """(address, key file) from a supervisor's INI file, as the CLI does:
    the first unix: listen entry (else the first), and authkey_file."""
    listen, keyfile = "unix:mpsup.sock, 127.0.0.1:7300", "authkey"
    section = None
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise Error("config", "cannot read %s: %s" % (path, e.strerror or e))
    for line in lines:
        text = line.split(";", 1)[0].split("#", 1)[0].strip()
        if text.startswith("[") and text.endswith("]"):
            section = text[1:-1].strip()
        elif section == "supervisor" and "=" in text:
            k, v = (s.strip() for s in text.split("=", 1))
            if k == "listen" and v:
                listen = v
            elif k == "authkey_file" and v:
                keyfile = v
    base = os.path.dirname(os.path.abspath(path))
    entries = [e.strip() for e in listen.split(",") if e.strip()]
    unix = [e for e in entries if e.startswith("unix:")]
    address = unix[0] if unix else entries[0]
    if address.startswith("unix:"):
        address = "unix:" + os.path.join(base, address[5:])
    return address, os.path.join(base, keyfile)


def resolve(address: Optional[Address] = None,
            authkey: Optional[Union[bytes, str]] = None,
            config: Optional[str] = None,
            authkey_file: Optional[str] = None) -> Tuple[Address, bytes]:
    """(address, key) the way the mpsup CLI finds them.

    In order: address and authkey (or authkey_file) as given; the
    supervisor's INI file config; the environment MPSUP_ADDRESS and
    MPSUP_AUTHKEY_FILE; ./pool.ini. Raises Error("config") when nothing
    names them.
    """
    keyfile = authkey_file
    if config is not None:
        a, k = _from_config(config)
        address = address if address is not None else a
        keyfile = keyfile or k
    if address is None:
        address = os.environ.get("MPSUP_ADDRESS") or None
    if authkey is None and keyfile is None:
        keyfile = os.environ.get("MPSUP_AUTHKEY_FILE") or None
    if (address is None or (authkey is None and keyfile is None)) and \
            config is None and os.path.exists("pool.ini"):
        a, k = _from_config("pool.ini")
        address = address if address is not None else a
        keyfile = keyfile or k
    if address is None:
        raise Error("config", "no address: pass address= or config=, or "
                    "set MPSUP_ADDRESS")
    if authkey is None:
        if keyfile is None:
            raise Error("config", "no key: pass authkey= or config=, or set "
                        "MPSUP_AUTHKEY_FILE")
        authkey = _read_key(keyfile)
    if isinstance(authkey, str):
        authkey = authkey.encode()
    if not isinstance(authkey, bytes) or not authkey:
        raise Error("config", "authkey must be non-empty bytes")
    return address, authkey


def _mac(key: bytes, body: bytes) -> bytes:
    """The answer to a challenge body, in the form the challenger named."""
    if len(body) == 20:
        raise AuthenticationError("the server sent a legacy (HMAC-MD5) "
                                  "challenge: it is not an mpsup supervisor")
    if body.startswith(b"{") and b"}" in body[:10]:
        name = body[1:body.index(b"}")].decode("ascii", "replace")
        if name in _DIGESTS:
            return b"{%s}" % name.encode() + hmac.new(key, body, name).digest()
    raise AuthenticationError("the server's challenge names no digest "
                              "this client knows")


class _Socket:
    """A connected, authenticated socket that moves whole frames."""

    def __init__(self, address: Address, authkey: bytes,
                 timeout: Optional[float] = 30.0) -> None:
        family, sockaddr = parse_address(address)
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self._buf = bytearray()
        self._at = 0
        try:
            self.sock.settimeout(timeout)
            self.sock.connect(sockaddr)
            self._handshake(authkey)
            self.sock.settimeout(None)
        except socket.timeout:
            self.sock.close()
            raise Error("connection", "%s: no answer within %ss"
                        % (address, timeout))
        except (OSError, EOFError) as e:
            self.sock.close()
            raise Error("connection", "cannot connect to %s: %s"
                        % (address, getattr(e, "strerror", None) or e))
        except Error:
            self.sock.close()
            raise

    def _handshake(self, key: bytes) -> None:
        # The server challenges first, then answers ours.
        challenge = self.recv(_HANDSHAKE_MAX)
        if not challenge.startswith(_CHALLENGE):
            raise AuthenticationError("the server did not start with a "
                                      "challenge")
        self.send(_mac(key, challenge[len(_CHALLENGE):]))
        if self.recv(_HANDSHAKE_MAX) != _WELCOME:
            raise AuthenticationError("the supervisor refused the key")
        body = b"{sha256}" + os.urandom(40)
        self.send(_CHALLENGE + body)
        answer = self.recv(_HANDSHAKE_MAX)
        want = b"{sha256}" + hmac.new(key, body, hashlib.sha256).digest()
        if not hmac.compare_digest(answer, want):
            self.send(_FAILURE)
            raise AuthenticationError("the server does not hold the key")
        self.send(_WELCOME)

    def send(self, payload: bytes) -> None:
        """Send one frame."""
        self.sendall(struct.pack("!i", len(payload)) + payload)

    def sendall(self, data: bytes) -> None:
        """Send frames already framed."""
        self.sock.sendall(data)

    def recv(self, limit: int = _REPLY_MAX,
             idle: Optional[Callable[[], None]] = None) -> bytes:
        """Receive one frame; EOFError at the end of the stream. idle()
        is called before each read that may block."""
        # Frames are cut from a buffer at an offset; the buffer is only
        # copied when a read needs room, never once per frame.
        buf, at = self._buf, self._at
        while True:
            have = len(buf) - at
            if have >= 4:
                n = struct.unpack_from("!i", buf, at)[0]
                head = 4
                if n == -1 and have >= 12:
                    n = struct.unpack_from("!Q", buf, at + 4)[0]
                    head = 12
                if n < -1 or n > limit:
                    raise OSError("bad message length %d" % n)
                if n >= 0 and have >= head + n:
                    self._at = at + head + n
                    return bytes(buf[at + head:self._at])
            if at:
                del buf[:at]
                at = self._at = 0
            if idle is not None:
                idle()
            chunk = self.sock.recv(_READ_SIZE)
            if not chunk:
                if buf:
                    raise OSError("got end of file during message")
                raise EOFError("the supervisor closed the connection")
            buf += chunk

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def frame(obj: Any) -> bytes:
    """A request object as one JSON frame, header included."""
    payload = json.dumps(obj, separators=(",", ":"),
                         allow_nan=False).encode("utf-8")
    return struct.pack("!i", len(payload)) + payload


def check_reply(reply: dict) -> dict:
    """reply itself if ok, else raise Error with its code and message."""
    if not reply.get("ok"):
        raise Error(str(reply.get("error", "unknown")),
                    str(reply.get("message", "")))
    return reply


class Client:
    """A blocking connection to a supervisor: one request, one reply.

    Client(address, authkey) or Client(config="pool.ini"); see resolve()
    for where the address and key come from otherwise. Every method
    raises Error with the protocol's code when mpsup refuses.
    """

    def __init__(self, address: Optional[Address] = None,
                 authkey: Optional[Union[bytes, str]] = None, *,
                 config: Optional[str] = None,
                 authkey_file: Optional[str] = None,
                 timeout: Optional[float] = 30.0) -> None:
        self.address, key = resolve(address, authkey, config, authkey_file)
        self._sock = _Socket(self.address, key, timeout)
        self._lock = threading.Lock()

    def request(self, req: dict) -> dict:
        """Send one request object; return its reply, or raise Error."""
        with self._lock:
            try:
                self._sock.sendall(frame(req))
                reply = json.loads(self._sock.recv())
            except (OSError, EOFError) as e:
                raise Error("connection", "connection to %s lost: %s"
                            % (self.address, e))
        return check_reply(reply)

    def pipeline(self, reqs: List[dict]) -> List[dict]:
        """Send reqs in one write and return their replies, in order
        (error replies included, not raised)."""
        with self._lock:
            try:
                self._sock.sendall(b"".join(frame(r) for r in reqs))
                return [json.loads(self._sock.recv()) for _ in reqs]
            except (OSError, EOFError) as e:
                raise Error("connection", "connection to %s lost: %s"
                            % (self.address, e))

    def submit(self, pool: str, data: Any = None, *,
               wait: bool = False, timeout: Optional[float] = None,
               **fields: Any) -> dict:
        """Submit one job; the reply ({"id":..., "job": record if wait}).

        fields are the submit's other members (args, key, priority, ...).
        """
        req = dict(fields, op="submit", pool=pool)
        if data is not None or "args" not in fields:
            req["data"] = data
        if wait:
            req["wait"] = True
        if timeout is not None:
            req["timeout"] = timeout
        return self.request(req)

    def submit_many(self, pool: str, jobs: List[dict], *,
                    wait: bool = False,
                    timeout: Optional[float] = None) -> dict:
        """Submit jobs (each {"data": ...} or {"args": [...]}); the reply
        ({"ids": [...]}, and "jobs" with the records if wait)."""
        req = {"op": "submit_many", "pool": pool, "jobs": jobs}
        if wait:
            req["wait"] = True
        if timeout is not None:
            req["timeout"] = timeout
        return self.request(req)

    def result(self, job_id: str, *, wait: bool = False,
               timeout: Optional[float] = None) -> dict:
        """A job's record; with wait, once it has ended (or Error
        "timeout" after timeout seconds)."""
        req = {"op": "result", "id": job_id}
        if wait:
            req["wait"] = True
        if timeout is not None:
            req["timeout"] = timeout
        return self.request(req)["job"]

    def cancel(self, job_id: str) -> dict:
        """Cancel a queued job (a running one is left to finish)."""
        return self.request({"op": "cancel", "id": job_id})

    def status(self) -> dict:
        """The /status document."""
        return self.request({"op": "status"})["status"]

    def close(self) -> None:
        """Close the connection."""
        self._sock.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


Callback = Callable[[Optional[dict], Optional[BaseException]], None]


class Channel:
    """One pipelined connection: requests from any thread, replies matched
    in order by a reader thread that calls each request's callback with
    (reply, None), or (None, error) once the connection is lost.

    idle, when set, is called by the reader when it has handled every
    reply it has read and is about to wait for more: the moment to wake
    those who wait for what the callbacks stored, once per batch rather
    than once per reply.
    """

    def __init__(self, address: Address, authkey: bytes,
                 timeout: Optional[float] = 30.0,
                 loads: Callable[[bytes], Any] = json.loads) -> None:
        self.address = address
        self._loads = loads
        self.idle = None    # type: Optional[Callable[[], None]]
        self._sock = _Socket(address, authkey, timeout)
        self._lock = threading.Lock()
        self._pending = collections.deque()    # type: Deque[Callback]
        self.error = None           # type: Optional[Error]
        self._reader = threading.Thread(target=self._read, daemon=True,
                                        name="mpsup-reader")
        self._reader.start()

    def load(self) -> int:
        """Requests sent and not yet answered."""
        return len(self._pending)

    def send(self, reqs: List[dict], callbacks: List[Callback]) -> None:
        """Send reqs in one write; callbacks[i] gets the reply of reqs[i].

        Raises Error("connection") when the connection is already lost
        (no callback is called then).
        """
        self.send_raw([json.dumps(r, separators=(",", ":"),
                                  allow_nan=False).encode("utf-8")
                       for r in reqs], callbacks)

    def send_raw(self, payloads: List[bytes],
                 callbacks: List[Callback]) -> None:
        """send() for requests already encoded as JSON text."""
        data = b"".join(struct.pack("!i", len(p)) + p for p in payloads)
        with self._lock:
            if self.error is not None:
                raise self.error
            self._pending.extend(callbacks)
            try:
                self._sock.sendall(data)
            except OSError as e:
                # The reader sees the loss too and fails the callbacks.
                self._lost(Error("connection", "connection to %s lost: %s"
                                 % (self.address, e)))

    def _lost(self, err: Error) -> None:
        if self.error is None:
            self.error = err
        try:
            self._sock.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _read(self) -> None:
        # The deque's append and popleft are atomic, and a reply never
        # comes before its request was queued: no lock here, so a sender
        # blocked in sendall() never holds the reader up.
        try:
            while True:
                reply = self._loads(self._sock.recv(idle=self.idle))
                cb = self._pending.popleft()
                try:
                    cb(reply, None)
                except Exception:       # a bug; the other replies go on
                    traceback.print_exc()
        except (OSError, EOFError, ValueError, IndexError) as e:
            self._lost(Error("connection", "connection to %s lost: %s"
                             % (self.address, e)))
            with self._lock:
                pending, self._pending = self._pending, collections.deque()
            for cb in pending:
                cb(None, self.error)

    def close(self) -> None:
        """Close; requests still unanswered fail with Error("connection")."""
        self._lost(Error("connection", "the connection was closed"))
        if threading.current_thread() is not self._reader:
            self._reader.join(10)
        self._sock.sock.close()

    def request(self, req: dict, timeout: Optional[float] = None) -> dict:
        """One request, waiting for its reply (not from the reader)."""
        box = {}        # type: Dict[str, Any]
        done = threading.Event()

        def cb(reply: Optional[dict], err: Optional[BaseException]) -> None:
            box["reply"], box["err"] = reply, err
            done.set()
        self.send([req], [cb])
        if not done.wait(timeout):
            raise Error("timeout", "no reply within %ss" % timeout)
        if box["err"] is not None:
            raise box["err"]
        return check_reply(box["reply"])
