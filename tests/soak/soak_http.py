#!/usr/bin/env python3
"""Soak: the HTTP monitor under valid, malformed and greedy requests.

One supervisor with the status endpoint on 127.0.0.1, a status token and
an admin token, while jobs run and fail (dead letters). Four threads
from 127.0.0.1 send every endpoint with and without tokens, wrong
methods, POST /retry with good and bad origins, garbage, long URLs, big
headers, bodies, chunked requests, unfinished requests, pipelined
requests and bursts of connections past the caps. From 127.0.0.2, which
the caps keep apart, /healthz is asked twice a second and must answer
200 within 5 s every time. Then mpsup must stop with 0, and no
sanitizer report.
"""
import os
import random
import socket
import sys
import time

import soaklib
from harness import Supervisor, config, connect, request, wait_for, write  # noqa: E402

TOKEN, ADMIN = "t" * 32, "a" * 32


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Http:
    def __init__(self, port):
        self.port = port

    def raw(self, data, read=True, timeout=3, src="127.0.0.1"):
        s = socket.create_connection(("127.0.0.1", self.port),
                                     timeout=timeout, source_address=(src, 0))
        try:
            for part in data if isinstance(data, list) else [data]:
                s.sendall(part)
                if isinstance(data, list):
                    time.sleep(0.02)
            out = b""
            while read and len(out) < 4 << 20:
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                out += chunk
            return out
        finally:
            s.close()

    def req(self, method, path, headers=None, body=b"", src="127.0.0.1"):
        h = {"Host": "127.0.0.1:%d" % self.port, "Connection": "close"}
        h.update(headers or {})
        text = "%s %s HTTP/1.1\r\n%s\r\n" % (method, path, "".join(
            "%s: %s\r\n" % kv for kv in h.items()))
        return code(self.raw(text.encode("latin-1") + body, src=src))


def code(resp):
    try:
        return int(resp.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0        # closed unanswered: past a cap, or malformed


def hostile(run, http, ids, n):
    rng = random.Random(run.a.seed * 31 + n)
    port = http.port
    while run.running():
        some = ids[rng.randrange(len(ids))] if ids else "0123456789abcdef"
        auth = rng.choice([{}, {"Authorization": "Bearer " + TOKEN},
                           {"Authorization": "Bearer " + ADMIN},
                           {"Authorization": "Bearer nope"}])
        k = rng.randint(0, 14)
        try:
            if k <= 5:
                path = rng.choice([
                    "/", "/status", "/status?history=1", "/metrics",
                    "/healthz", "/jobs", "/jobs?since=10m", "/jobs?limit=0",
                    "/jobs?pool=p&state=failed,timed_out&limit=1000",
                    "/jobs?pool=nope", "/job?id=" + some, "/job?id=",
                    "/job?id=%00%ff", "/dead", "/dead?pool=x&limit=5",
                    "/dead?limit=-1", "/nope", "/%2e%2e/etc/passwd",
                    "/status?" + "a=b&" * 500])
                c = http.req(rng.choice(["GET", "GET", "HEAD", "POST",
                                         "DELETE", "OPTIONS"]), path, auth)
                run.count("http:%d" % c)
            elif k == 6:
                origin = rng.choice(["http://127.0.0.1:%d" % port,
                                     "http://evil.example", "null"])
                run.count("retry:%d" % http.req(
                    "POST", "/retry?id=" + some, dict(auth, Origin=origin)))
            elif k == 7:
                http.raw(os.urandom(rng.randint(1, 4000)))
                run.count("garbage")
            elif k == 8:
                run.count("long_url:%d" % http.req(
                    "GET", "/" + "a" * rng.randint(5000, 100000)))
            elif k == 9:
                run.count("big_header:%d" % http.req(
                    "GET", "/status", {"X-Big": "b" * rng.randint(
                        20000, 60000)}))
            elif k == 10:
                run.count("body:%d" % http.req(
                    "POST", "/retry?id=" + some, {"Content-Length": "10",
                    "Authorization": "Bearer " + ADMIN}, b"0123456789"))
            elif k == 11:
                run.count("chunked:%d" % http.req(
                    "GET", "/status", {"Transfer-Encoding": "chunked"},
                    b"5\r\nhello\r\n0\r\n\r\n"))
            elif k == 12:
                http.raw([b"GET /healthz HTTP/1.1\r\nHost: x\r\n"] +
                         [b"X: y\r\n"] * rng.randint(1, 20), read=False)
                run.count("unfinished")
            elif k == 13:
                n_req = rng.randint(2, 50)
                out = http.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" *
                               n_req, timeout=1)
                run.count("pipelined:%s" % (
                    "all" if out.count(b" 200 ") == n_req else "some"))
            else:
                socks = []
                for _ in range(rng.randint(10, 80)):
                    socks.append(socket.create_connection(
                        ("127.0.0.1", port), timeout=1))
                time.sleep(rng.uniform(0, 0.5))
                for s in socks:
                    s.close()
                run.count("burst")
        except OSError:
            run.count("oserror")


def health(run, http):
    worst = 0.0
    while run.running():
        t0 = time.monotonic()
        c = http.req("GET", "/healthz", src="127.0.0.2")
        if c != 200:
            raise AssertionError("/healthz from 127.0.0.2 answered %d" % c)
        worst = max(worst, time.monotonic() - t0)
        if worst > 5:
            raise AssertionError("/healthz took %.1f s" % worst)
        time.sleep(0.5)
    run.count("healthz_worst_ms:%d" % (worst * 1000))


def jobs(run, ids):
    rng = random.Random(run.a.seed)
    c = connect(run.dir)
    while run.running():
        r = request(c, {"op": "submit_many", "pool": "p", "jobs": [
            {"data": rng.randint(0, 9)}] * 100})
        if r.get("ok"):
            ids.extend(r["ids"][:3])
        r = request(c, {"op": "submit", "pool": "x", "shell": rng.choice(
            ["exit 1", "echo out; echo err >&2; exit 2", "true"])})
        if r.get("ok"):
            ids.append(r["id"])
        time.sleep(0.02)


def main():
    a = soaklib.args(__doc__)
    run = soaklib.Run("http", a)
    for name, text in (("token", TOKEN), ("admin", ADMIN)):
        write(os.path.join(run.dir, name), text + "\n")
        os.chmod(os.path.join(run.dir, name), 0o600)
    http = Http(free_port())
    sup = Supervisor(run.dir, config(
        "supervisor", legacy_md5="yes", status="127.0.0.1:%d" % http.port,
        extra="log = out.log\nstatus_token_file = token\n"
              "status_admin_token_file = admin\nresult_max = 2000\n") +
        config("pool_echo", name="p", workers=2, work_us=100,
               extra="max_queue = 50000\n") +
        "[pool:x]\ntype = exec\nworkers = 2\nmax_attempts = 1\n")

    def body():
        def up():
            try:
                return http.req("GET", "/healthz", src="127.0.0.2") == 200
            except OSError:
                return False
        wait_for(up, 20, 0.05, "the status endpoint")
        ids = []
        threads = [run.thread(hostile, run, http, ids, n) for n in range(4)]
        threads += [run.thread(health, run, http), run.thread(jobs, run, ids)]
        run.hold(threads, [sup])
        if sup.stop() != 0:
            run.fail("mpsup did not stop with 0")
    return run.conclude([sup.stderr_path], body)

if __name__ == "__main__":
    sys.exit(main())
