"""The HTTP monitoring endpoint (SPEC section 9) against a running supervisor:
/status, /metrics, /healthz, the token, bad requests and greedy clients."""
import http.client
import json
import math
import os
import re
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Supervisor, check_invariant, config, connect,  # noqa: E402
                     pid_alive, request, run_tests, wait_for, write)

# Mirrors supervisor/monitor/http.h.
HTTP_MAX_PER_IP = 32
HTTP_IDLE_TIMEOUT = 10


def head(status, extra=""):
    """[supervisor] with the endpoint at status; extra: more keys."""
    return config("supervisor", status=status, legacy_md5="yes",
                  extra="shutdown_timeout = 5s\n" + extra)


# "sh" ends jobs done, failed and timed out; "slow" has one running job,
# one queued and one cancelled (paused while they are submitted).
POOLS = config("pool_exec", name="sh", workers=2,
               extra="job_timeout = 300ms") + config(
    "pool_exec", name="slow", workers=1)


def free_port(host="127.0.0.1", family=socket.AF_INET):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get(port, path, headers=None, method="GET", host="127.0.0.1", source=None):
    """One request on a fresh connection: (status, headers, body bytes)."""
    c = http.client.HTTPConnection(host, port, timeout=10,
                                   source_address=(source, 0) if source else None)
    try:
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def healthy(port, host="127.0.0.1"):
    """Does /healthz answer 200 right now?"""
    try:
        return get(port, "/healthz", host=host)[0] == 200
    except OSError:
        return False


def raw(port, data, timeout=5.0):
    """Send raw bytes; return everything the server sends until it closes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        out = b""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                d = s.recv(65536)
            except ConnectionResetError:
                break
            except socket.timeout:
                break
            if not d:
                break
            out += d
        return out
    finally:
        s.close()


def status_code(resp):
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", resp)
    return int(m.group(1)) if m else None


def start(tmp, pools=POOLS, extra="", host="127.0.0.1"):
    """A supervisor with the endpoint on a free port; (sup, port)."""
    for attempt in range(5):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        port = free_port(host, family)
        addr = "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)
        sup = Supervisor(tmp, head(addr, extra) + pools)

        def up():
            if sup.proc.poll() is not None:
                return "exited"
            return healthy(port, host)
        state = wait_for(up, what="the HTTP endpoint")
        if state is True:
            return sup, port
        with open(sup.stderr_path) as f:
            err = f.read()
        sup.wait()
        if "in use" not in err:
            raise AssertionError("supervisor exited: %s" % err)
    raise AssertionError("no free port found")


def get_json(port, path="/status", headers=None):
    code, hdrs, body = get(port, path, headers)
    assert code == 200, (code, body)
    assert hdrs["content-type"] == "application/json", hdrs
    assert hdrs["cache-control"] == "no-store", hdrs
    return json.loads(body)


def pool_of(doc, name):
    return [p for p in doc["pools"] if p["name"] == name][0]


def jobs_in_every_state(tmp, port):
    """Submit jobs ending in every state; returns (conn, ids)."""
    c = connect(tmp)
    ids = {}
    for key, args in (("done", ["true"]), ("failed", ["false"]),
                      ("timed_out", ["sleep", "5"])):
        r = request(c, {"op": "submit", "pool": "sh", "args": args, "wait": True, "timeout": 20})
        assert r["ok"] and r["job"]["state"] == key, r
        ids[key] = r["id"]
    r = request(c, {"op": "submit", "pool": "slow", "args": ["sleep", "30"]})
    ids["running"] = r["id"]
    wait_for(lambda: pool_of(get_json(port), "slow")["jobs"]["running"] == 1,
             what="the slow job to run")
    assert request(c, {"op": "pause", "pool": "slow"})["ok"]
    ids["cancelled"] = request(c, {"op": "submit", "pool": "slow", "args": ["true"]})["id"]
    ids["queued"] = request(c, {"op": "submit", "pool": "slow", "args": ["true"]})["id"]
    r = request(c, {"op": "cancel", "id": ids["cancelled"]})
    assert r["ok"], r
    return c, ids


def check_types(doc):
    """Every field of SPEC section 9 is there with its JSON type."""
    num = (int, float)
    m = doc["mpsup"]
    for k, t in (("version", str), ("pid", int), ("started_at", str),
                 ("uptime_s", num), ("config", str), ("store", str)):
        assert isinstance(m[k], t) and not isinstance(m[k], bool), (k, m[k])
    ss = m["store_stats"]
    assert isinstance(ss["durable"], bool) and isinstance(ss["failing"], bool)
    for k in ("commits", "commit_errors", "segments"):
        assert isinstance(ss[k], int) and ss[k] >= 0, (k, ss)
    assert isinstance(doc["connections"], int)
    assert isinstance(doc["pools"], list)
    for p in doc["pools"]:
        for k, t in (("name", str), ("type", str), ("state", str),
                     ("workers_target", int), ("workers_busy", int),
                     ("workers_idle", int), ("queue_depth", int), ("queue_max", int),
                     ("restarts", int)):
            assert isinstance(p[k], t) and not isinstance(p[k], bool), (k, p[k])
        assert p["type"] in ("exec", "stream")
        for k in ("submitted", "queued", "running", "done", "failed",
                  "timed_out", "cancelled", "retried", "rejected"):
            assert isinstance(p["jobs"][k], int) and p["jobs"][k] >= 0, (k, p["jobs"])
        for k in ("p50", "p90", "p99", "max"):
            assert isinstance(p["latency_ms"][k], num), (k, p["latency_ms"])
        assert p["latency_ms"]["p50"] <= p["latency_ms"]["p90"] <= p["latency_ms"]["p99"] \
            <= p["latency_ms"]["max"] + 1e-9, p["latency_ms"]
        assert p["queue_depth"] == p["jobs"]["queued"]
        for w in p["workers"]:
            assert isinstance(w["index"], int)
            assert w["pid"] is None or isinstance(w["pid"], int)
            assert w["state"] in ("idle", "busy", "stopping", "dead"), w
            assert isinstance(w["jobs_done"], int) and isinstance(w["restarts"], int)
            assert w["job"] is None or isinstance(w["job"], str)
            assert w["started_at"] is None or isinstance(w["started_at"], str)


def test_status_has_every_field_and_counts_jobs_in_every_state(tmp):
    sup, port = start(tmp)
    c, ids = jobs_in_every_state(tmp, port)
    doc = get_json(port)
    check_types(doc)
    check_invariant(doc)
    assert doc["mpsup"]["pid"] == sup.pid and doc["mpsup"]["config"] == sup.config
    assert doc["connections"] >= 1, doc
    assert [p["name"] for p in doc["pools"]] == ["sh", "slow"]
    sh, slow = pool_of(doc, "sh")["jobs"], pool_of(doc, "slow")["jobs"]
    assert (sh["submitted"], sh["done"], sh["failed"], sh["timed_out"]) == (3, 1, 1, 1), sh
    assert (slow["submitted"], slow["running"], slow["queued"], slow["cancelled"]) == (3, 1, 1, 1), slow
    busy = [w for w in pool_of(doc, "slow")["workers"] if w["state"] == "busy"]
    assert len(busy) == 1 and busy[0]["job"] == ids["running"], busy
    assert pid_alive(busy[0]["pid"])
    assert pool_of(doc, "sh")["latency_ms"]["max"] >= 300, pool_of(doc, "sh")
    # Fresh at each request: a resumed pool runs its queued job.
    assert request(c, {"op": "resume", "pool": "slow"})["ok"]
    request(c, {"op": "cancel", "id": ids["running"]})
    wait_for(lambda: pool_of(get_json(port), "slow")["jobs"]["done"] == 1, what="the queued job")
    doc = get_json(port)
    check_invariant(doc)
    # The same document as the remote status op.
    remote = request(c, {"op": "status"})["status"]
    assert set(doc) == set(remote) and set(doc["mpsup"]) == set(remote["mpsup"])
    assert [sorted(p) for p in doc["pools"]] == [sorted(p) for p in remote["pools"]]
    assert [p["jobs"] for p in doc["pools"]] == [p["jobs"] for p in remote["pools"]]
    # HEAD gets the headers only.
    code, hdrs, body = get(port, "/status", method="HEAD")
    assert code == 200 and body == b"" and hdrs["content-type"] == "application/json"
    assert sup.stop() == 0


def test_status_pool_filter(tmp):
    sup, port = start(tmp)
    doc = get_json(port, "/status?pool=slow")
    assert [p["name"] for p in doc["pools"]] == ["slow"], doc
    check_types(doc)
    doc = get_json(port, "/status?pool=sh")
    assert [p["name"] for p in doc["pools"]] == ["sh"], doc
    code, hdrs, body = get(port, "/status?pool=nope")
    assert code == 404, (code, body)
    assert len(get_json(port, "/status")["pools"]) == 2
    assert sup.stop() == 0


# The text exposition format 0.0.4, line by line.
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"'
LABEL_NC = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r"^(?P<name>%s)(?:\{(?P<labels>%s(?:,%s)*)?,?\})? (?P<value>\S+)(?: -?\d+)?$"
                    % (NAME, LABEL_NC, LABEL_NC))
HELP = re.compile(r"^# HELP (%s) (.*)$" % NAME)
TYPE = re.compile(r"^# TYPE (%s) (counter|gauge|histogram|summary|untyped)$" % NAME)


def parse_value(s):
    if s in ("+Inf", "Inf"):
        return math.inf
    if s == "-Inf":
        return -math.inf
    if s == "NaN":
        return math.nan
    assert re.match(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$", s), "bad value %r" % s
    return float(s)


def parse_metrics(text):
    """Parse and check the whole document; ({(name, labels): value}, types)."""
    assert text.endswith("\n"), "must end with a newline"
    types, helps, samples = {}, {}, {}
    current = None          # the family whose HELP/TYPE came last
    last = None             # the family of the previous sample
    closed = set()          # families whose samples are over
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = "line %d: %r" % (n, line)
        assert line != "", "empty line at %d" % n
        if line.startswith("#"):
            m = HELP.match(line) or TYPE.match(line)
            assert m, "bad comment " + where
            name = m.group(1)
            seen = helps if line.startswith("# HELP") else types
            assert name not in seen, "repeated HELP/TYPE " + where
            assert name not in closed and name != last, "HELP/TYPE after samples " + where
            seen[name] = m.group(2)
            current = name
            continue
        m = SAMPLE.match(line)
        assert m, "bad sample " + where
        name = m.group("name")
        labels = tuple(re.findall(LABEL, m.group("labels") or ""))
        assert len({k for k, _ in labels}) == len(labels), "repeated label " + where
        family = name
        if types.get(current) == "histogram" and name in (
                current + "_bucket", current + "_sum", current + "_count"):
            family = current
        assert family == current, "sample outside its family " + where
        assert family in types and family in helps, "no HELP/TYPE before " + where
        if last is not None and family != last:
            closed.add(last)
        assert family not in closed, "family split " + where
        last = family
        key = (name, labels)
        assert key not in samples, "duplicate series " + where
        samples[key] = parse_value(m.group("value"))
    for name, t in types.items():
        assert name.startswith("mpsup_"), name
        assert name in helps, "TYPE without HELP: " + name
        if t == "counter":
            assert name.endswith("_total"), "counter without _total: " + name
        else:
            assert not name.endswith("_total"), "_total on a %s: %s" % (t, name)
        if "duration" in name or "time" in name:
            assert name.endswith("_seconds"), "time without a unit: " + name
    return samples, types


def check_histograms(samples, types):
    for name, t in types.items():
        if t != "histogram":
            continue
        series = {}
        for (n, labels), v in samples.items():
            if n == name + "_bucket":
                rest = tuple(l for l in labels if l[0] != "le")
                le = [l[1] for l in labels if l[0] == "le"]
                assert len(le) == 1, labels
                series.setdefault(rest, []).append((parse_value(le[0]), v))
        assert series, "histogram without buckets: " + name
        for rest, buckets in series.items():
            les = [b[0] for b in buckets]
            assert les == sorted(les) and len(set(les)) == len(les), (name, les)
            assert les[-1] == math.inf, "last bucket must be +Inf"
            counts = [b[1] for b in buckets]
            assert counts == sorted(counts), "buckets not cumulative %r" % counts
            assert samples[(name + "_count", rest)] == counts[-1]
            assert samples[(name + "_sum", rest)] >= 0


def test_metrics_parse_per_exposition_format_and_match_status(tmp):
    sup, port = start(tmp)
    c, ids = jobs_in_every_state(tmp, port)
    code, hdrs, body = get(port, "/metrics")
    assert code == 200, code
    assert hdrs["content-type"].startswith("text/plain; version=0.0.4"), hdrs
    assert hdrs["cache-control"] == "no-store"
    samples, types = parse_metrics(body.decode("utf-8"))
    check_histograms(samples, types)
    doc = get_json(port)

    def v(name, **labels):
        want = tuple(sorted(labels.items()))
        for (n, ls), val in samples.items():
            if n == name and tuple(sorted(ls)) == want:
                return val
        raise AssertionError("no sample %s%r" % (name, labels))

    for want in ("mpsup_jobs_total", "mpsup_jobs_submitted_total", "mpsup_jobs_retried_total",
                 "mpsup_jobs_rejected_total", "mpsup_worker_restarts_total"):
        assert types[want] == "counter", want
    for want in ("mpsup_queue_depth", "mpsup_jobs_running", "mpsup_workers",
                 "mpsup_connections", "mpsup_up"):
        assert types[want] == "gauge", want
    assert types["mpsup_job_duration_seconds"] == "histogram"
    assert v("mpsup_up") == 1
    assert v("mpsup_connections") == doc["connections"]
    ss = doc["mpsup"]["store_stats"]
    assert types["mpsup_store_commits_total"] == "counter"
    assert types["mpsup_store_failing"] == "gauge"
    assert v("mpsup_store_commits_total") == ss["commits"] == 0    # memory
    assert v("mpsup_store_commit_errors_total") == ss["commit_errors"]
    assert v("mpsup_store_failing") == int(ss["failing"])
    assert v("mpsup_store_segments") == ss["segments"] == 0
    for p in doc["pools"]:
        name, j = p["name"], p["jobs"]
        assert v("mpsup_jobs_submitted_total", pool=name) == j["submitted"]
        for st in ("done", "failed", "timed_out", "cancelled"):
            assert v("mpsup_jobs_total", pool=name, state=st) == j[st], (name, st)
        assert v("mpsup_jobs_retried_total", pool=name) == j["retried"]
        assert v("mpsup_jobs_rejected_total", pool=name) == j["rejected"]
        assert v("mpsup_worker_restarts_total", pool=name) == p["restarts"]
        assert v("mpsup_queue_depth", pool=name) == j["queued"]
        assert v("mpsup_jobs_running", pool=name) == j["running"]
        assert v("mpsup_workers", pool=name, state="busy") == p["workers_busy"]
        assert v("mpsup_workers", pool=name, state="idle") == p["workers_idle"]
        assert sum(v("mpsup_workers", pool=name, state=s)
                   for s in ("busy", "idle", "stopping", "dead")) == len(p["workers"])
    # Every job of "sh" ran; the slow pool's cancelled one never did.
    assert v("mpsup_job_duration_seconds_count", pool="sh") == 3
    assert 0.3 <= v("mpsup_job_duration_seconds_sum", pool="sh") < 5
    assert v("mpsup_job_duration_seconds_count", pool="slow") == 0
    assert v("mpsup_job_duration_seconds_bucket", pool="sh", le="+Inf") == 3
    assert v("mpsup_job_duration_seconds_bucket", pool="sh", le="0.001024") <= 2
    assert request(c, {"op": "cancel", "id": ids["running"]})["ok"]
    assert sup.stop() == 0


def test_metrics_parser_rejects_bad_documents(tmp):
    good = "# HELP mpsup_x_total X.\n# TYPE mpsup_x_total counter\nmpsup_x_total{pool=\"a\"} 1\n"
    parse_metrics(good)
    for bad in (good.replace("mpsup_x_total{", "mpsup_x_total {"),           # space
                good.replace("counter", "gauge"),                          # _total gauge
                good.replace("_total", ""),                                # counter w/o _total
                good[:-1],                                                 # no final newline
                good + "mpsup_x_total{pool=\"a\"} 2\n",                    # duplicate
                good.replace('"a"', '"a\nb"'),                             # raw newline
                "mpsup_y 1\n" + good,                                      # no TYPE
                good.replace("} 1", "} one")):
        try:
            parse_metrics(bad)
        except AssertionError:
            continue
        raise AssertionError("accepted: %r" % bad)
    hist = ("# HELP mpsup_d_seconds D.\n# TYPE mpsup_d_seconds histogram\n"
            'mpsup_d_seconds_bucket{le="1"} 2\nmpsup_d_seconds_bucket{le="+Inf"} 1\n'
            "mpsup_d_seconds_sum 1\nmpsup_d_seconds_count 1\n")
    try:
        check_histograms(*parse_metrics(hist))
    except AssertionError:
        return
    raise AssertionError("accepted a non-cumulative histogram")


def test_token_is_required_for_status_and_metrics_only(tmp):
    token = "0123456789abcdef0123456789abcdef"
    path = write(os.path.join(tmp, "token"), token + "\n")
    os.chmod(path, 0o600)
    sup, port = start(tmp, extra="status_token_file = token")
    for p in ("/status", "/metrics"):
        for headers in ({}, {"Authorization": "Bearer nope"},
                        {"Authorization": "Bearer " + token[:-1]},
                        {"Authorization": "Bearer " + token + "x"},
                        {"Authorization": "Basic " + token},
                        {"Authorization": token}):
            code, hdrs, body = get(port, p, headers)
            assert code == 401, (p, headers, code)
            assert hdrs["www-authenticate"].startswith("Bearer"), hdrs
            assert b"pools" not in body and b"mpsup_" not in body
        for scheme in ("Bearer", "bearer"):
            code, hdrs, body = get(port, p, {"Authorization": "%s %s" % (scheme, token)})
            assert code == 200, (p, scheme, code)
    assert get(port, "/healthz")[0] == 200
    code, hdrs, body = get(port, "/")
    assert code == 200 and b"<html" in body
    assert sup.stop() == 0
    # A token file others can read is refused, like an authkey.
    os.chmod(path, 0o644)
    sup = Supervisor(tmp, head("127.0.0.1:%d" % free_port(), "status_token_file = token") + POOLS,
                     log_name="again.log")
    assert sup.wait() == 2
    with open(sup.stderr_path) as f:
        err = f.read()
    assert "mpsup: status: " in err and "readable by group or others" in err, err


def test_without_a_token_only_known_hosts_are_answered(tmp):
    # A page on evil.example that rebinds its name to 127.0.0.1 sends
    # "Host: evil.example:PORT": without a token that is the only tell.
    sup, port = start(tmp)
    for p in ("/status", "/metrics", "/"):
        for host in ("evil.example:%d" % port, "evil.example",
                     "127.0.0.1.evil.example:%d" % port, "[::2]:%d" % port,
                     "localhost.:%d" % port):
            code, hdrs, body = get(port, p, {"Host": host})
            assert code == 421, (p, host, code)
            assert hdrs["content-type"].startswith("text/plain"), hdrs
            assert b"status_hosts" in body and b"pools" not in body, body
        for host in ("localhost:%d" % port, "127.0.0.1:%d" % port,
                     "LocalHost", "[::1]:%d" % port, "127.0.0.1"):
            code, hdrs, body = get(port, p, {"Host": host})
            assert code == 200, (p, host, code)
    # /healthz says only "ok": it stays open to any Host.
    code, hdrs, body = get(port, "/healthz", {"Host": "evil.example"})
    assert code == 200 and body == b"ok\n", (code, body)
    # HTTP/1.0 without Host: no browser sends that, so it is answered.
    resp = raw(port, b"GET /status HTTP/1.0\r\n\r\n")
    assert status_code(resp) == 200, resp[:200]
    resp = raw(port, b"GET /status HTTP/1.0\r\nHost: evil.example\r\n\r\n")
    assert status_code(resp) == 421, resp[:200]
    assert sup.stop() == 0


def test_status_hosts_replaces_the_default_list(tmp):
    sup, port = start(tmp, extra="status_hosts = mon.example, [fe80::1]")
    for host, want in (("mon.example:%d" % port, 200), ("MON.example", 200),
                       ("[fe80::1]:%d" % port, 200), ("localhost", 421),
                       ("127.0.0.1:%d" % port, 421), ("evil.example", 421)):
        code = get(port, "/status", {"Host": host})[0]
        assert code == want, (host, code, want)
    assert sup.stop() == 0


def test_with_a_token_the_host_is_not_checked(tmp):
    token = "0123456789abcdef0123456789abcdef"
    path = write(os.path.join(tmp, "token"), token + "\n")
    os.chmod(path, 0o600)
    sup, port = start(tmp, extra="status_token_file = token")
    auth = {"Authorization": "Bearer " + token}
    code = get(port, "/status", dict(auth, Host="evil.example:%d" % port))[0]
    assert code == 200, code
    code = get(port, "/status", {"Host": "evil.example"})[0]
    assert code == 401, code
    code, hdrs, body = get(port, "/", {"Host": "proxy.example"})
    assert code == 200 and b"<html" in body, code
    assert sup.stop() == 0


def test_responses_carry_types_and_no_store(tmp):
    sup, port = start(tmp)
    code, hdrs, body = get(port, "/")
    assert code == 200 and hdrs["content-type"] == "text/html; charset=utf-8", hdrs
    assert hdrs["cache-control"] == "no-store"
    assert "default-src 'none'" in hdrs["content-security-policy"]
    # Self-contained: nothing loaded from elsewhere.
    assert not re.search(rb"""(src|href)\s*=\s*["']?(https?:)?//""", body), "external asset"
    assert not re.search(rb"@import|url\(", body)
    code, hdrs, body = get(port, "/healthz")
    assert (code, body) == (200, b"ok\n") and hdrs["cache-control"] == "no-store"
    assert hdrs["content-type"].startswith("text/plain")
    assert sup.stop() == 0


def submit_and_wait(tmp, pool="sh", args=("echo", "hi")):
    c = connect(tmp)
    try:
        r = request(c, {"op": "submit", "pool": pool, "args": list(args), "wait": True, "timeout": 20})
    finally:
        c.close()
    assert r["ok"] and r["job"]["state"] == "done", r
    return r["job"]


def test_bad_requests_get_4xx_and_dispatch_goes_on(tmp):
    sup, port = start(tmp)
    assert get(port, "/nope")[0] == 404
    assert get(port, "/status/")[0] == 404
    assert get(port, "/index.html")[0] == 404
    for method in ("POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
        code, hdrs, body = get(port, "/status", method=method)
        assert code == 405 and "GET" in hdrs["allow"], (method, code)
    cases = [
        (b"GARBAGE GARBAGE\r\n\r\n", (400,)),
        (b"GET / HTTP/1.1\r\nHost: x\r\nno colon in this header\r\n\r\n", (400,)),
        (b"GET / FOO/1.1\r\n\r\n", (400,)),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", (400,)),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
         (400,)),
        (b"POST /status HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", (405,)),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n", (400, 413, 431)),
        (b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", (400, 414, 431)),
        (b"GET / HTTP/1.1\r\n" + b"X-Many: 1\r\n" * 20000 + b"\r\n", (400, 413, 431)),
    ]
    for data, codes in cases:
        resp = raw(port, data)
        assert status_code(resp) in codes, (data[:60], resp[:80])
    # A request line MHD cannot split at all is dropped, answered or not.
    resp = raw(port, b"GARBAGE\r\n\r\n")
    assert resp == b"" or 400 <= status_code(resp) < 500, resp[:80]
    # Bytes that are not HTTP at all, then a hang-up mid-request.
    raw(port, bytes(range(256)) * 4, timeout=1)
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\nX-Half: ")
    s.close()
    assert sup.proc.poll() is None
    submit_and_wait(tmp)
    assert get(port, "/healthz")[0] == 200
    check_invariant(get_json(port))
    assert sup.stop() == 0


def test_idle_and_greedy_clients_do_not_stall_dispatch(tmp):
    sup, port = start(tmp)
    socks = []
    opened = time.monotonic()
    try:
        for _ in range(200):
            s = socket.socket()
            s.settimeout(5)
            try:
                s.connect(("127.0.0.1", port))
            except OSError:
                s.close()
                continue
            socks.append(s)
        # Half a request on a few more: a slowloris.
        for s in socks[:5]:
            s.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\n")
        t0 = time.monotonic()
        for i in range(10):
            submit_and_wait(tmp, args=("echo", str(i)))
        assert time.monotonic() - t0 < 10, "dispatch stalled"
        # Another address is not locked out by the per-address limit.
        code, hdrs, body = get(port, "/status", source="127.0.0.2")
        assert code == 200 and json.loads(body)["pools"][0]["jobs"]["done"] == 10
        # The server closes an idle connection after its timeout.
        idle = socks[10]
        idle.settimeout(HTTP_IDLE_TIMEOUT + 10)
        try:
            assert idle.recv(1) == b""
        except ConnectionResetError:
            pass
        held = time.monotonic() - opened
        assert HTTP_IDLE_TIMEOUT - 1 <= held < HTTP_IDLE_TIMEOUT + 5, held
    finally:
        for s in socks:
            s.close()
    # Once MHD has seen them go, the address is served again.
    wait_for(lambda: healthy(port), what="the endpoint to serve again")
    code, hdrs, body = get(port, "/metrics")
    n = int(re.search(rb"^mpsup_http_connections (\d+)$", body, re.M).group(1))
    assert 1 <= n <= HTTP_MAX_PER_IP, n
    assert sup.stop() == 0


def voluntary_switches(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
    raise AssertionError("no voluntary_ctxt_switches")


def test_idle_endpoint_does_not_wake_the_supervisor(tmp):
    sup, port = start(tmp, pools="[pool:sh]\ntype = exec\nworkers = 1\n")
    get(port, "/metrics", headers={"Connection": "close"})
    time.sleep(2.5)  # past the workers' health timer
    before = voluntary_switches(sup.pid)
    time.sleep(2)
    woke = voluntary_switches(sup.pid) - before
    assert woke <= 1, "supervisor woke %d times while idle" % woke
    assert sup.stop() == 0


def listening_socket_inodes(port, table="/proc/net/tcp"):
    found = {}
    with open(table) as f:
        next(f)
        for line in f:
            fields = line.split()
            local, st, inode = fields[1], fields[3], fields[9]
            if int(local.split(":")[1], 16) == port:
                found[inode] = (local.split(":")[0], st)
    return found


def fd_flags(pid, fd):
    with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
        for line in f:
            if line.startswith("flags:"):
                return int(line.split()[1], 8)
    raise AssertionError("no flags for fd %s" % fd)


def test_sockets_are_close_on_exec_and_bound_to_loopback(tmp):
    sup, port = start(tmp)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/healthz")
    assert c.getresponse().read() == b"ok\n"
    sockets = listening_socket_inodes(port)
    listen = [i for i, (addr, st) in sockets.items() if st == "0A"]
    assert len(listen) == 1, sockets
    assert sockets[listen[0]][0] == "0100007F", "not bound to 127.0.0.1"
    checked = 0
    for fd in os.listdir("/proc/%d/fd" % sup.pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (sup.pid, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", target)
        if (m and m.group(1) in sockets) or target == "anon_inode:[eventpoll]":
            assert fd_flags(sup.pid, fd) & 0o2000000, "fd %s (%s) lacks O_CLOEXEC" % (fd, target)
            checked += 1
    assert checked >= 3, checked    # listener, the connection, MHD's epoll
    c.close()
    assert sup.stop() == 0


def test_ipv6_address_is_bound_as_written(tmp):
    try:
        free_port("::1", socket.AF_INET6)
    except OSError:
        print("# no IPv6 loopback here; checked nothing")
        return
    sup, port = start(tmp, host="::1")
    assert get(port, "/healthz", host="::1")[0] == 200
    # The default status_hosts has the status address's own host.
    assert get(port, "/status", host="::1")[0] == 200
    try:
        get(port, "/healthz")
        raise AssertionError("IPv4 answered on an [::1] endpoint")
    except ConnectionRefusedError:
        pass
    assert sup.stop() == 0


def test_port_in_use_fails_startup_with_exit_2(tmp):
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    try:
        sup = Supervisor(tmp, head("127.0.0.1:%d" % port) + POOLS)
        assert sup.wait() == 2
        with open(sup.stderr_path) as f:
            err = f.read()
        assert err.startswith("mpsup: status: 127.0.0.1:%d: " % port) and "in use" in err, err
        assert not os.path.exists(os.path.join(tmp, "mpsup.sock"))
    finally:
        blocker.close()


def test_endpoint_answers_during_graceful_stop_until_exit(tmp):
    sup, port = start(tmp)
    c = connect(tmp)
    jid = request(c, {"op": "submit", "pool": "slow", "args": ["sleep", "2"]})["id"]
    wait_for(lambda: pool_of(get_json(port), "slow")["jobs"]["running"] == 1, what="the job to run")
    sup.signal(signal.SIGTERM)
    wait_for(lambda: get_json(port)["mpsup"].get("stopping") is True, what="stopping")
    assert get(port, "/healthz")[0] == 200
    r = request(c, {"op": "result", "id": jid, "wait": True, "timeout": 20})
    assert r["ok"] and r["job"]["state"] == "done", r
    assert sup.wait() == 0
    try:
        get(port, "/healthz")
        raise AssertionError("still answering after exit")
    except ConnectionRefusedError:
        pass



POOL_A = "\n[pool:a]\ntype = exec\nworkers = 1\n"
POOL_B = "\n[pool:b]\ntype = exec\nworkers = 2\n"


def reload_with(c, sup, text, says):
    """Rewrite the config and reload it with the `reload` op."""
    write(sup.config, text)
    r = request(c, {"op": "reload"})
    assert r["ok"] and says in r["message"], r
    return r


def listed_once(c, port, name):
    """name is one pool in /status, the status op and /metrics; its doc."""
    doc = get_json(port)
    op = request(c, {"op": "status"})["status"]
    for d in (doc, op):
        names = [p["name"] for p in d["pools"]]
        assert names.count(name) == 1 and len(set(names)) == len(names), names
        check_invariant(d)
    # parse_metrics fails on a duplicate series.
    samples, _ = parse_metrics(get(port, "/metrics")[2].decode("utf-8"))
    assert ("mpsup_jobs_submitted_total", (("pool", name),)) in samples
    return pool_of(doc, name)


def test_pool_removed_and_added_back_by_reload_is_one_pool(tmp):
    """A reload that brings a removed pool back revives it: one pool b,
    whether it was still finishing its jobs or had stopped; a removed pool
    that has stopped leaves status and metrics, its records stay readable."""
    sup, port = start(tmp, POOL_A + POOL_B)
    with_b = open(sup.config).read()
    without_b = with_b.replace(POOL_B, "")
    c = connect(tmp)
    kept = request(c, {"op": "submit", "pool": "b", "args": ["true"], "wait": True})
    assert kept["job"]["state"] == "done", kept
    slow = request(c, {"op": "submit", "pool": "b", "args": ["sleep", "1.5"]})["id"]
    wait_for(lambda: pool_of(get_json(port), "b")["jobs"]["running"] == 1, what="b's job to run")

    # Removed while a job runs on it: listed as removed until that job ends.
    reload_with(c, sup, without_b, "0 pools added, 1 removed")
    assert listed_once(c, port, "b")["state"] == "removed"
    # Back before it stopped: the same pool, running again, counters kept.
    reload_with(c, sup, with_b, "1 pool added, 0 removed")
    b = listed_once(c, port, "b")
    assert b["state"] == "running" and b["jobs"]["submitted"] == 2, b
    r = request(c, {"op": "result", "id": slow, "wait": True, "timeout": 10})
    assert r["job"]["state"] == "done", r
    r = request(c, {"op": "submit", "pool": "b", "args": ["true"], "wait": True})
    assert r["job"]["state"] == "done", r
    wait_for(lambda: listed_once(c, port, "b")["workers_idle"] == 2, what="b's 2 workers")

    # Removed again with nothing running: it stops and leaves status and
    # metrics; what it ran stays readable until result_ttl.
    reload_with(c, sup, without_b, "1 removed")
    wait_for(lambda: "b" not in [p["name"] for p in get_json(port)["pools"]],
             what="the stopped pool b to leave /status")
    assert "b" not in [p["name"] for p in request(c, {"op": "status"})["status"]["pools"]]
    samples, _ = parse_metrics(get(port, "/metrics")[2].decode("utf-8"))
    assert not [k for k in samples if ("pool", "b") in k[1]], samples
    r = request(c, {"op": "result", "id": kept["id"]})
    assert r["ok"] and r["job"]["pool"] == "b" and r["job"]["state"] == "done", r
    assert request(c, {"op": "submit", "pool": "b", "args": ["true"]})["error"] == "unknown_pool"

    # Back once more, after it stopped: one pool b that runs jobs.
    reload_with(c, sup, with_b, "1 pool added, 0 removed")
    wait_for(lambda: listed_once(c, port, "b")["workers_idle"] == 2, what="b's workers back")
    for _ in range(3):
        r = request(c, {"op": "submit", "pool": "b", "args": ["true"], "wait": True})
        assert r["job"]["state"] == "done" and r["job"]["pool"] == "b", r
    listed_once(c, port, "b")
    assert get_json(port, "/status?pool=b")["pools"][0]["state"] == "running"
    c.close()
    assert sup.stop() == 0


if __name__ == "__main__":
    run_tests(globals())
