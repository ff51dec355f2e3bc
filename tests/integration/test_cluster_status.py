"""The cluster as monitoring shows it, through the real binary: two nodes
and one private Redis. Each node's /status lists both nodes (itself
marked), their pools and capacity; the cluster-wide depth moves when jobs
wait for busy workers; /metrics has the same as well-formed series; with
Redis stopped a node says it is not connected, and why, in both, and
`mpsup status` prints the cluster block. Without cluster there is no
"cluster" object and no mpsup_cluster_* family."""
import json
import os
import re
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (MPSUP, Skip, Supervisor, config, connect,  # noqa: E402
                     request, run_tests, wait_for)
from redisd import REDIS_SERVER, Redisd, free_port  # noqa: E402

LEASE = 3
RUN = 8         # seconds a job of the depth test runs


def need_redis():
    if not os.access(REDIS_SERVER, os.X_OK):
        raise Skip("%s is missing (apt-get install redis-server)"
                   % REDIS_SERVER)


def node(tmp, name, redis, workers=1):
    """A node NAME in tmp/NAME serving exec pool p; its HTTP port is .port."""
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    port = free_port()
    keys = "cluster = %s\nnode = %s\ncluster_lease = %ds\n" % (
        redis.url, name, LEASE)
    text = config("supervisor", status="127.0.0.1:%d" % port, extra=keys,
                  legacy_md5="yes") + \
        config("pool_exec", name="p", workers=workers, extra="")
    sup = Supervisor(d, text)
    sup.port = port
    sup.dir = d
    sup.wait_log("cluster: connected to", timeout=15)
    # Ready for submits once it also has its number from Redis: status
    # says connected only then.
    wait_for(lambda: cluster_of(sup)["connected"], timeout=15,
             what="%s connected in its status" % name)
    return sup


def warm(sup):
    """One job through sup, waited for. A node puts a pool in its registry
    entry once its queue was used (a submit, a claim, a message of new
    work), not at start: listing pools before any job would wait for
    that."""
    c = connect(sup.dir)
    r = request(c, {"op": "submit", "pool": "p", "args": ["true"],
                    "wait": True, "timeout": 20})
    c.close()
    assert r.get("job", {}).get("state") == "done", (r, sup.log()[-1500:])


def get(sup, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (sup.port, path),
                                timeout=10) as r:
        return r.read().decode()


def status(sup):
    return json.loads(get(sup, "/status"))


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"(,|$)')


def metrics(sup):
    """{(name, ((label, value), ...)): float}; fails on a malformed line,
    a sample before its family's TYPE, or a series given twice."""
    out, typed = {}, set()
    for line in get(sup, "/metrics").splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("gauge", "counter", "histogram"), line
            typed.add(name)
            continue
        m = SAMPLE.match(line)
        assert m, "malformed sample line %r" % line
        name, labels = m.group(1), ()
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in typed or family in typed, "no TYPE for %r" % line
        if m.group(3):
            pairs = LABEL.findall(m.group(3))
            assert "".join('%s="%s"%s' % p for p in pairs) == m.group(3), line
            labels = tuple((k, v) for k, v, _ in pairs)
        key = (name, labels)
        assert key not in out, "series twice: %r" % line
        out[key] = float(m.group(4))
    return out


def cluster_of(sup):
    return status(sup)["cluster"]


EMPTY = {"queued": 0, "running": 0, "delayed": 0}


def depth(sup):
    return cluster_of(sup)["pools"]["p"]


def both_listed(sup, pools=True):
    """The node's cluster object once it lists nodes a and b (with their
    pool when pools), else None."""
    c = cluster_of(sup)
    names = sorted(n["node"] for n in c["nodes"])
    if names != ["a", "b"]:
        return None
    if pools and any(n["pools"] != ["p"] for n in c["nodes"]):
        return None
    return c


def test_each_node_lists_both_with_self_marked(tmp):
    need_redis()
    with Redisd(tmp) as r:
        a, b = node(tmp, "a", r), node(tmp, "b", r, workers=2)
        warm(a)
        for me, other in ((a, "b"), (b, "a")):
            c = wait_for(lambda: both_listed(me), timeout=LEASE * 3,
                         what="both nodes with pool p in %s's status"
                         % me.dir)
            assert c["url"] == r.url + "/0" and c["connected"] is True, c
            assert c["error"] is None and c["lease"] == LEASE, c
            mine = os.path.basename(me.dir)
            assert c["node"] == mine and c["consumer"].startswith(
                mine + ":"), c
            by = {n["node"]: n for n in c["nodes"]}
            assert by[mine]["self"] is True and by[other]["self"] is False
            assert by[mine]["consumer"] == c["consumer"], c
            assert by["a"]["capacity"] == {"p": 1}, by["a"]
            assert by["b"]["capacity"] == {"p": 2}, by["b"]
            for n in c["nodes"]:
                assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$",
                                n["heartbeat"]), n
                # Renewed every lease / 3; the look is as old at most.
                assert 0 <= n["age"] < LEASE * 2, n
            # The warm-up job is done; the next look says so.
            wait_for(lambda: depth(me) == EMPTY, timeout=LEASE * 3,
                     what="an empty queue on %s" % me.dir)
            assert c["unavailable"] == 0 and c["fenced"] == 0, c
            assert status(me)["mpsup"]["store"] == "redis"
        m = metrics(a)
        assert m[("mpsup_cluster_connected", ())] == 1, m
        assert m[("mpsup_cluster_nodes", ())] == 2, m
        for n in ("a", "b"):
            age = m[("mpsup_cluster_node_heartbeat_age_seconds",
                     (("node", n),))]
            assert 0 <= age < LEASE * 2, (n, age)
        for k in ("mpsup_cluster_submits_unavailable_total",
                  "mpsup_cluster_fenced_total",
                  "mpsup_cluster_requeued_total"):
            assert m[(k, ())] == 0, k




def test_depth_moves_when_jobs_wait_for_busy_workers(tmp):
    need_redis()
    with Redisd(tmp) as r:
        a, b = node(tmp, "a", r), node(tmp, "b", r)
        warm(a)
        wait_for(lambda: both_listed(a) and both_listed(b),
                 timeout=LEASE * 3, what="both nodes listed")
        c = connect(a.dir)
        ids = [request(c, {"op": "submit", "pool": "p",
                           "args": ["sleep", str(RUN)]})["id"]
               for _ in range(5)]
        assert all(len(i) == 16 for i in ids), ids
        # One worker each: two run (one per node), three wait in Redis.
        want = {"queued": 3, "running": 2, "delayed": 0}
        for sup in (a, b):
            wait_for(lambda: depth(sup) == want, timeout=RUN - 2,
                     what="cluster depth %r on %s" % (want, sup.dir))
        m = metrics(b)
        for state, n in want.items():
            assert m[("mpsup_cluster_queue_depth",
                      (("pool", "p"), ("state", state)))] == n, (state, m)
        # Node b's own pool sees one job of its own running, not five.
        pb = status(b)["pools"][0]
        assert pb["workers_busy"] == 1, pb
        # As the jobs end, the depth goes down to nothing.
        for i in ids:
            rep = request(c, {"op": "result", "id": i, "wait": True,
                              "timeout": RUN * 5})
            assert rep["job"]["state"] == "done", rep
        for sup in (a, b):
            wait_for(lambda: depth(sup) == EMPTY, timeout=LEASE * 3,
                     what="an empty queue on %s" % sup.dir)
        c.close()


def test_redis_stopped_shows_not_connected_and_why(tmp):
    need_redis()
    with Redisd(tmp) as r:
        a, b = node(tmp, "a", r), node(tmp, "b", r)
        warm(a)
        wait_for(lambda: both_listed(a), timeout=LEASE * 3,
                 what="both nodes listed")
        r.stop()

        def away():
            c = cluster_of(a)
            return c if not c["connected"] else None
        c = wait_for(away, timeout=5, what="connected false")
        assert isinstance(c["error"], str) and c["error"], c
        # The nodes as last seen stay, ageing.
        assert sorted(n["node"] for n in c["nodes"]) == ["a", "b"], c
        m = metrics(a)
        assert m[("mpsup_cluster_connected", ())] == 0, m
        assert m[("mpsup_cluster_nodes", ())] == 2, m
        # A submit is refused, and counted.
        conn = connect(a.dir)
        rep = request(conn, {"op": "submit", "pool": "p", "args": ["true"]})
        conn.close()
        assert rep.get("error") == "unavailable", rep
        assert cluster_of(a)["unavailable"] == 1
        assert metrics(a)[("mpsup_cluster_submits_unavailable_total",
                           ())] == 1
        rc, out, err = mpsup_status(a)
        assert rc == 0, (rc, out, err)
        # The error is the link's last one: it changes as retries fail.
        assert re.search(r"\ncluster: %s/0, node a, not connected: \S.*\n"
                         r"  \(nodes and depths as last seen\)\n"
                         % re.escape(r.url), out), out
        # Back: connected again, error cleared.
        r.start()
        wait_for(lambda: cluster_of(a)["connected"], timeout=15,
                 what="connected again")
        assert cluster_of(a)["error"] is None


def mpsup_status(sup, *args):
    p = subprocess.run([MPSUP, "status", "-c", os.path.join(sup.dir,
                        "pool.ini")] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                       cwd=sup.dir, timeout=30)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def test_cli_prints_the_cluster_block(tmp):
    need_redis()
    with Redisd(tmp) as r:
        a, b = node(tmp, "a", r), node(tmp, "b", r, workers=2)
        warm(a)
        wait_for(lambda: both_listed(a) and depth(a) == EMPTY,
                 timeout=LEASE * 3, what="both nodes listed, nothing queued")
        rc, out, err = mpsup_status(a)
        assert rc == 0, (rc, out, err)
        block = out[out.index("\ncluster: "):].splitlines()[1:]
        assert block[0] == "cluster: %s/0, node a, connected" % r.url, block
        lines = sorted(block[1:])
        assert len(lines) == 3, block
        assert re.match(r"^  node a \(this one\): pools p; capacity p=1; "
                        r"heartbeat \d+\.\ds ago$", lines[0]), lines
        assert re.match(r"^  node b: pools p; capacity p=2; "
                        r"heartbeat \d+\.\ds ago$", lines[1]), lines
        assert lines[2] == "  pool p: queued 0, running 0, delayed 0 " \
            "(cluster-wide)", lines
        # --json: the object as the status op has it.
        rc, out, err = mpsup_status(a, "--json")
        assert rc == 0, (rc, out, err)
        c = json.loads(out)["cluster"]
        assert c["node"] == "a" and len(c["nodes"]) == 2, c


def test_hostile_registry_entries_are_contained(tmp):
    """Anyone who can write to Redis can write the registry: entries that
    are not JSON are left out, members of the wrong type taken as
    missing, and names escaped in JSON, metrics and the CLI."""
    need_redis()
    with Redisd(tmp) as r:
        a = node(tmp, "a", r)
        warm(a)
        entries = {
            "junk:1": "not json {",
            "odd:1": json.dumps({"node": 'we"ird\nname', "heartbeat": "soon",
                                 "pools": {"p": 1, 'q"\u001b[2J': 2},
                                 "capacity": {"p": "many", "q": 3}}),
            "nameless:1": json.dumps({"heartbeat": 1, "pools": [1],
                                      "capacity": 7}),
            'x\\y:1': json.dumps({"node": 'x\\y"z', "heartbeat": 1}),
            # Times no clock reaches are no heartbeat.
            "far:1": '{"node":"far","heartbeat":1e300}',
            "past:1": '{"node":"past","heartbeat":-5}',
        }
        for consumer, info in entries.items():
            # A lease that never runs out, so that no node reaps them.
            r.cmd("SET", "mpsup:lease:" + consumer, "1")
            r.cmd("HSET", "mpsup:nodes", consumer, info)

        def listed():
            c = cluster_of(a)
            return c if len(c["nodes"]) == 6 else None
        c = wait_for(listed, timeout=LEASE * 3, what="6 readable entries")
        by = {n["consumer"]: n for n in c["nodes"]}
        assert "junk:1" not in by, by
        odd = by["odd:1"]
        assert odd["node"] == 'we"ird\nname' and odd["self"] is False, odd
        assert odd["heartbeat"] is None and odd["age"] is None, odd
        assert odd["pools"] == ["p", 'q"\u001b[2J'], odd
        assert odd["capacity"] == {"q": 3}, odd
        nameless = by["nameless:1"]
        assert nameless["node"] == "nameless", nameless
        assert nameless["pools"] == [] and nameless["capacity"] == {}, nameless
        assert nameless["heartbeat"] == "1970-01-01T00:00:01.000Z", nameless
        for far in ("far:1", "past:1"):
            assert by[far]["heartbeat"] is None, by[far]
        m = metrics(a)
        assert m[("mpsup_cluster_nodes", ())] == 6, m
        ages = {dict(k[1])["node"]: v for k, v in m.items()
                if k[0] == "mpsup_cluster_node_heartbeat_age_seconds"}
        # No heartbeat, no series; the label escaped (metrics() checks).
        assert sorted(ages) == ["a", "nameless", 'x\\\\y\\"z'], ages
        rc, out, err = mpsup_status(a)
        assert rc == 0, (rc, out, err)
        assert "\x1b" not in out and "\\x1b[2J" in out, out
        assert "  node we\"ird\\x0aname: pools p,q\"\\x1b[2J; capacity q=3; " \
            "no heartbeat\n" in out, out


def test_without_cluster_nothing_of_it(tmp):
    port = free_port()
    text = config("supervisor", status="127.0.0.1:%d" % port,
                  legacy_md5="yes") + \
        config("pool_exec", name="p", workers=1, extra="")
    sup = Supervisor(tmp, text)
    sup.port = port
    sup.dir = tmp
    sup.wait_log("status endpoint on")
    wait_for(lambda: os.path.exists(os.path.join(tmp, "mpsup.sock")),
             what="the listener")
    s = status(sup)
    assert "cluster" not in s and s["mpsup"]["store"] == "memory", s
    assert not any(n.startswith("mpsup_cluster") for n, _ in metrics(sup))
    rc, out, err = mpsup_status(sup)
    assert rc == 0 and "cluster:" not in out, (rc, out, err)
    assert sup.stop() == 0


if __name__ == "__main__":
    run_tests(globals(), timeout=90)
