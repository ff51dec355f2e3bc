"""A cluster node whose Redis is named by a host name: looked up (from
/etc/hosts here) and used; and one that the resolver does not answer for
yet: the node keeps serving its clients while it
waits (the name is looked up off the loop), says why it cannot reach
Redis, and connects as soon as the name resolves.

The node runs in a mount namespace of its own, where /etc/resolv.conf is
the test's file naming a DNS server the test runs on 127.0.0.77:53 (UDP):
nothing outside the test sees either. Needs root (a mount namespace, and
port 53) and unshare(1); skipped without them."""
import json
import os
import shutil
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Skip, Supervisor, config, connect, request,  # noqa: E402
                     run_tests, write)
from redisd import Redisd  # noqa: E402

NAME = "redis.mpsup.test"
DNS_ADDR = "127.0.0.77"


class SilentThenDNS:
    """A DNS server that drops every query until answer() is called, then
    answers A queries for NAME with 127.0.0.1 (others: no records)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((DNS_ADDR, 53))
        self.sock.settimeout(0.2)
        self.answering = threading.Event()
        self.stopping = threading.Event()
        self.dropped = 0
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def answer(self):
        self.answering.set()

    def close(self):
        self.stopping.set()
        self.thread.join(5)
        self.sock.close()

    def run(self):
        while not self.stopping.is_set():
            try:
                q, peer = self.sock.recvfrom(512)
            except socket.timeout:
                continue
            if not self.answering.is_set():
                self.dropped += 1
                continue
            reply = self.reply(q)
            if reply is not None:
                self.sock.sendto(reply, peer)

    @staticmethod
    def reply(q):
        if len(q) < 12:
            return None
        qid = q[:2]
        i, labels = 12, []
        while i < len(q) and q[i] != 0:
            labels.append(q[i + 1:i + 1 + q[i]].decode("ascii", "replace"))
            i += 1 + q[i]
        end = i + 5             # the root label, QTYPE, QCLASS
        if end > len(q):
            return None
        qtype = struct.unpack("!H", q[i + 1:i + 3])[0]
        ok = ".".join(labels).lower() == NAME and qtype == 1     # A
        known = ".".join(labels).lower() == NAME
        # NOERROR (no records for other types of NAME), else NXDOMAIN.
        head = qid + struct.pack("!HHHHH", 0x8180 if known else 0x8183,
                                 1, 1 if ok else 0, 0, 0)
        answer = b""
        if ok:
            answer = struct.pack("!HHHIH", 0xC00C, 1, 1, 0, 4) + \
                socket.inet_aton("127.0.0.1")
        return head + q[12:end] + answer


def test_a_redis_name_nobody_resolves_yet_holds_up_no_client(tmp):
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        raise Skip("needs root and unshare(1)")
    write(os.path.join(tmp, "authkey"), os.urandom(16).hex() + "\n")
    os.chmod(os.path.join(tmp, "authkey"), 0o600)
    resolv = write(os.path.join(tmp, "resolv.conf"),
                   "nameserver %s\noptions timeout:2 attempts:1\n" % DNS_ADDR)
    dns = SilentThenDNS()
    try:
        with Redisd(tmp) as redis:
            text = config("supervisor", legacy_md5="yes", extra=(
                "cluster = redis://%s:%d\nnode = n1\n" % (NAME, redis.port))) \
                + config("pool_echo", name="p", workers=1, work_us=0,
                         extra="")
            sup = Supervisor(tmp, text, prefix=[
                "unshare", "-m", "sh", "-c",
                'mount --bind "$0" /etc/resolv.conf && exec "$@"', resolv])
            sup.wait_log("cluster: cannot reach redis://%s" % NAME)
            assert "Temporary failure in name resolution" in sup.log(), \
                sup.log()
            c = connect(tmp)
            # While lookups wait on a silent resolver (2 s for A, then 2 s
            # for AAAA), every request is answered at once.
            worst, end = 0.0, time.monotonic() + 5
            while time.monotonic() < end:
                t0 = time.monotonic()
                c.send_bytes(json.dumps({"op": "status"}).encode())
                assert c.poll(3), "no status answer in 3 s"
                json.loads(c.recv_bytes())
                worst = max(worst, time.monotonic() - t0)
                time.sleep(0.05)
            assert worst < 1.0, worst
            assert dns.dropped > 0, "the resolver was never asked"
            dns.answer()
            sup.wait_log("cluster: connected to redis://%s" % NAME,
                         timeout=20)
            rep = request(c, {"op": "submit", "pool": "p", "data": 7,
                              "wait": True})
            assert rep["ok"] and rep["job"]["result"] == 7, rep
            c.close()
            assert sup.stop() == 0
    finally:
        dns.close()


def test_a_redis_host_name_from_etc_hosts_is_looked_up_and_used(tmp):
    # localhost comes from /etc/hosts: the same lookup, no namespace.
    write(os.path.join(tmp, "authkey"), os.urandom(16).hex() + "\n")
    os.chmod(os.path.join(tmp, "authkey"), 0o600)
    with Redisd(tmp) as redis:
        sup = Supervisor(tmp, config("supervisor", legacy_md5="yes", extra=(
            "cluster = redis://localhost:%d\nnode = n1\n" % redis.port)) +
            config("pool_echo", name="p", workers=1, work_us=0, extra=""))
        sup.wait_log("cluster: connected to redis://localhost:%d"
                     % redis.port)
        c = connect(tmp)
        rep = request(c, {"op": "submit", "pool": "p", "data": [1, 2],
                          "wait": True})
        assert rep["ok"] and rep["job"]["result"] == [1, 2], rep
        c.close()
        assert sup.stop() == 0


if __name__ == "__main__":
    run_tests(globals(), timeout=120)
