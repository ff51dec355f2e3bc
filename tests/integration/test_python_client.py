"""A stock Python client, nothing installed: send()/recv() with pickles,
send_bytes()/recv_bytes() with JSON, over Unix and TCP sockets."""
import os
import pickle
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (Supervisor, connect, request, run_tests, wait_for,  # noqa: E402
                     write)

WORKER = r'''
import json, os, sys
out = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
for line in sys.stdin:
    job = json.loads(line)
    out.write(json.dumps({"id": job["id"], "ok": True, "result": {"echo": job["data"]}}) + "\n")
    out.flush()
'''


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def config(tmp, listen="unix:mpsup.sock"):
    write(os.path.join(tmp, "w.py"), WORKER)
    return harness.config(
        "supervisor", listen=listen, legacy_md5="yes") + harness.config(
        "pool_python", name="echo", workers=2) + harness.config(
        "pool_exec", name="sh", workers=1, extra="output = capture")


def test_pickled_requests_get_pickled_replies(tmp):
    sup = Supervisor(tmp, config(tmp))
    c = connect(tmp)
    c.send({"op": "submit", "pool": "echo", "data": {"n": 1, "s": "你好", "l": [1, 2.5, None, True]},
            "wait": True, "timeout": 10})
    r = c.recv()
    assert r["ok"] is True and r["job"]["state"] == "done", r
    assert r["job"]["result"] == {"echo": {"n": 1, "s": "你好", "l": [1, 2.5, None, True]}}, r
    # Python bytes survive the round trip as bytes.
    c.send({"op": "submit", "pool": "echo", "data": b"\x00\xffraw", "wait": True})
    r = c.recv()
    assert r["job"]["result"] == {"echo": b"\x00\xffraw"}, r
    c.send({"op": "submit", "pool": "sh", "args": ["sh", "-c", "printf out"], "wait": True})
    r = c.recv()
    assert r["job"]["stdout"] == "out" and r["job"]["exit_code"] == 0, r
    c.send({"op": "status"})
    assert [p["name"] for p in c.recv()["status"]["pools"]] == ["echo", "sh"]
    assert sup.stop() == 0


def test_deep_results_stay_within_what_replies_can_carry(tmp):
    sup = Supervisor(tmp, config(tmp).replace("workers = 2", "workers = 1"))
    c = connect(tmp)

    def nest(n):
        v = 0
        for _ in range(n):
            v = [v]
        return v
    # The worker answers {"echo": data}: one level more than the data.
    c.send({"op": "submit", "pool": "echo", "data": nest(59), "wait": True})
    r = c.recv()
    assert r["job"]["state"] == "done" and r["job"]["result"] == {"echo": nest(59)}, r["job"]["state"]
    # A result too deep to fit in a reply fails its job; the worker stays.
    c.send({"op": "submit", "pool": "echo", "data": nest(60), "wait": True})
    r = c.recv()
    assert r["job"]["state"] == "failed", r
    assert r["job"]["error"] == "result nested deeper than 60 levels", r
    c.send({"op": "submit", "pool": "echo", "data": 1, "wait": True})
    assert c.recv()["job"]["result"] == {"echo": 1}
    assert "malformed result line" not in sup.log()
    assert sup.stop() == 0


def test_first_time_users_list_gets_a_clear_error(tmp):
    sup = Supervisor(tmp, config(tmp))
    c = connect(tmp)
    c.send(['Hello World', 100, '你好'.encode('utf-8')])
    r = c.recv()
    assert r["ok"] is False and r["error"] == "bad_request", r
    assert "dict" in r["message"], r
    # The connection stays usable.
    c.send({"op": "submit", "pool": "echo", "data": 3, "wait": True})
    assert c.recv()["job"]["result"] == {"echo": 3}
    assert sup.stop() == 0


def test_code_carrying_pickles_are_refused_and_nothing_runs(tmp):
    marker = os.path.join(tmp, "pwned")

    class Evil:
        def __reduce__(self):
            return (os.system, ("touch %s" % marker,))
    sup = Supervisor(tmp, config(tmp))
    c = connect(tmp)
    for proto in (2, 4, 5):
        c.send_bytes(pickle.dumps({"op": "submit", "pool": "echo", "data": Evil()}, protocol=proto))
        r = pickle.loads(c.recv_bytes())
        assert r["ok"] is False and r["error"] == "bad_request", r
        assert "GLOBAL" in r["message"] and "not allowed" in r["message"], r
    assert not os.path.exists(marker)
    c.send({"op": "submit", "pool": "echo", "data": 1, "wait": True})
    assert c.recv()["job"]["result"] == {"echo": 1}
    assert sup.stop() == 0


def test_json_and_pickle_clients_pipeline_in_order(tmp):
    sup = Supervisor(tmp, config(tmp))
    c = connect(tmp)
    for i in range(200):
        c.send({"op": "submit", "pool": "echo", "data": i, "wait": True})
    for i in range(200):
        assert c.recv()["job"]["result"] == {"echo": i}
    assert sup.stop() == 0


def test_tcp_ipv4_and_ipv6_listeners(tmp):
    from multiprocessing.connection import Client, answer_challenge, deliver_challenge, Connection
    p4 = free_port()
    p6 = free_port(socket.AF_INET6, "::1")
    sup = Supervisor(tmp, config(tmp, "127.0.0.1:%d, [::1]:%d" % (p4, p6)))
    key_path = os.path.join(tmp, "authkey")
    wait_for(lambda: os.path.exists(key_path) and "listening on [::1]" in sup.log())
    key = open(key_path, "rb").read().strip()
    c = Client(("127.0.0.1", p4), authkey=key)
    assert request(c, {"op": "submit", "pool": "echo", "data": 4, "wait": True})["job"]["result"] == {"echo": 4}
    c.close()
    # The stock Client() has no IPv6 form: do what it does over an IPv6 socket.
    s = socket.create_connection(("::1", p6))
    c6 = Connection(s.detach())
    answer_challenge(c6, key)
    deliver_challenge(c6, key)
    assert request(c6, {"op": "submit", "pool": "echo", "data": 6, "wait": True})["job"]["result"] == {"echo": 6}
    c6.close()
    assert sup.stop() == 0


def test_client_that_never_reads_does_not_stall_others(tmp):
    sup = Supervisor(tmp, config(tmp))
    hog = connect(tmp)
    # Many status requests whose replies are never read: the hog's socket
    # buffer fills and the supervisor stops writing to it, nothing more.
    for _ in range(3000):
        hog.send_bytes(b'{"op":"status"}')
    c = connect(tmp)
    for i in range(20):
        assert request(c, {"op": "submit", "pool": "echo", "data": i, "wait": True})["job"]["result"] == {"echo": i}
    assert sup.stop() == 0


if __name__ == "__main__":
    run_tests(globals(), timeout=90)
