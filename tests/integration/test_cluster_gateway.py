"""Gateway pools (SPEC section 12): a cluster node takes submits for any
pool that a live node serves, also one its file has no section for, and
answers unknown_pool once no live node serves it. Node G below has no
pools at all; node W runs them. The registry it reads them from is
Redis's, which any client may write: hostile entries change nothing.

Every test starts its own redis-server (redisd.py) and its own nodes, each
in a folder of its own with the same authkey."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (MPSUP, Supervisor, config, connect, request,  # noqa: E402
                     run_tests, wait_for, write)
from redisd import Redisd, free_port  # noqa: E402

# A stream worker that writes each id it finishes to done-NODE.txt and
# sleeps `data` seconds when data is a number above 0.
WORKER = r'''
import json, os, sys, time
log = open(os.environ["DONE_LOG"], "a", buffering=1)
for line in sys.stdin:
    job = json.loads(line)
    d = job["data"]
    if isinstance(d, (int, float)) and not isinstance(d, bool) and d > 0:
        time.sleep(d)
    log.write(job["id"] + "\n")
    sys.stdout.write(json.dumps({"id": job["id"], "ok": True,
                                 "result": d}) + "\n")
    sys.stdout.flush()
'''

LEASE = "2s"


class Node:
    """One supervisor of the cluster in tmp/NAME; pools: its sections."""

    def __init__(self, tmp, name, redis, pools="", status="", sup=""):
        self.name = name
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir, exist_ok=True)
        shutil.copy(os.path.join(tmp, "authkey"), self.dir)
        os.chmod(os.path.join(self.dir, "authkey"), 0o600)
        write(os.path.join(self.dir, "w.py"), WORKER)
        self.done_log = os.path.join(tmp, "done-%s.txt" % name)
        self.port = free_port() if status else None
        self.text = config(
            "supervisor", legacy_md5="yes",
            status="127.0.0.1:%d" % self.port if status else "",
            extra="cluster = %s\nnode = %s\n"
            "cluster_lease = %s\n%s" % (redis.url, name, LEASE, sup)) + pools
        self.start()

    def start(self):
        self.sup = Supervisor(self.dir, self.text)
        self.sup.wait_log("cluster: connected to redis")
        self.conn = connect(self.dir)

    def ask(self, obj):
        return request(self.conn, obj)

    def pools(self):
        """This node's pools by name, from its status document."""
        st = self.ask({"op": "status"})["status"]
        return {p["name"]: p for p in st["pools"]}


def stream_pool(node_dir_log, name="p", workers=1, extra=""):
    return ("[pool:%s]\ntype = stream\nworkers = %d\nprefetch = 1\n"
            "command = %s w.py\nenv = DONE_LOG=%s\n%s" % (
                name, workers, sys.executable, node_dir_log, extra))


def cluster_authkey(tmp):
    write(os.path.join(tmp, "authkey"), os.urandom(16).hex() + "\n")
    os.chmod(os.path.join(tmp, "authkey"), 0o600)


def wait_gateway(g, pool, timeout=15):
    """Until G takes submits for pool (a gateway pool from the cluster)."""
    def served():
        pools = g.pools()
        p = pools.get(pool, {})
        if p.get("origin") == "cluster" and p["state"] != "removed":
            return pools
        return None
    return wait_for(served, timeout=timeout,
                    what="pool %s on the gateway" % pool)


def done_ids(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [l.strip() for l in f if len(l.strip()) == 16]


def test_node_without_pools_serves_what_a_live_node_runs(tmp):
    cluster_authkey(tmp)
    with Redisd(tmp) as redis:
        g = Node(tmp, "g", redis, status="on")
        # `mpsup check` takes a cluster node with no pools.
        p = subprocess.run([MPSUP, "check", "-c", g.sup.config],
                           capture_output=True, text=True)
        assert p.returncode == 0, (p.stdout, p.stderr)
        assert "ok (0 pools; cluster" in p.stdout, p.stdout
        assert g.pools() == {}

        def unknown():
            # unavailable until G has read the registry once.
            rep = g.ask({"op": "submit", "pool": "p", "data": 1})
            assert rep["error"] in ("unknown_pool", "unavailable"), rep
            return rep["error"] == "unknown_pool"
        wait_for(unknown, timeout=10, interval=0.1,
                 what="unknown_pool for p")

        w_log = os.path.join(tmp, "done-w.txt")
        w = Node(tmp, "w", redis, stream_pool(w_log, extra="max_queue = 50\n"),
                 status="on")
        gp = wait_gateway(g, "p")["p"]
        assert gp["type"] == "stream" and gp["workers_target"] == 0, gp
        # The gateway pool takes the serving node's max_queue.
        assert gp["queue_max"] == 50, gp

        # Submit through G: runs on W; its record and wait through G.
        rep = g.ask({"op": "submit", "pool": "p", "data": "hello",
                     "wait": True, "timeout": 10})
        assert rep["ok"] and rep["job"]["state"] == "done", rep
        assert rep["job"]["result"] == "hello", rep
        first = rep["job"]["id"]
        assert first in done_ids(w_log)
        assert not os.path.exists(os.path.join(tmp, "done-g.txt"))
        rep = g.ask({"op": "result", "id": first})
        assert rep["ok"] and rep["job"]["state"] == "done", rep

        # W's one worker holds a long job; a second waits, and is
        # cancelled through G; a third is waited for through G.
        long_id = g.ask({"op": "submit", "pool": "p", "data": 2})["id"]
        queued = g.ask({"op": "submit", "pool": "p", "data": "never"})["id"]
        later = g.ask({"op": "submit", "pool": "p", "data": "later"})["id"]
        rep = g.ask({"op": "cancel", "id": queued})
        assert rep["ok"] and rep["state"] == "cancelled", rep
        rep = g.ask({"op": "result", "id": later, "wait": True,
                     "timeout": 15})
        assert rep["ok"] and rep["job"]["state"] == "done", rep
        rep = g.ask({"op": "result", "id": long_id})
        assert rep["ok"] and rep["job"]["state"] == "done", rep
        rep = g.ask({"op": "result", "id": queued})
        assert rep["ok"] and rep["job"]["state"] == "cancelled", rep
        assert queued not in done_ids(w_log)

        # A pool nobody serves is unknown, here and on W.
        for n in (g, w):
            rep = n.ask({"op": "submit", "pool": "nobody", "data": 1})
            assert not rep["ok"] and rep["error"] == "unknown_pool", rep

        # Status, `mpsup status` and metrics mark the gateway pool.
        assert w.pools()["p"]["origin"] == "config"
        st = subprocess.run([MPSUP, "status", "-c", g.sup.config],
                            capture_output=True, text=True, cwd=g.dir)
        assert st.returncode == 0, (st.stdout, st.stderr)
        row = [l for l in st.stdout.splitlines() if l.startswith("p ")]
        assert row and "stream (from cluster)" in row[0], st.stdout
        for n, want in ((g, 1), (w, 0)):
            if n.port is None:
                continue
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" %
                                        n.port, timeout=10) as r:
                text = r.read().decode()
            assert 'mpsup_pool_from_cluster{pool="p"} %d\n' % want in text

        # W stops: once its lease has passed, G takes no more submits for
        # p; a job accepted just before waits in the shared queue.
        assert w.sup.stop() == 0
        waiting = []

        def refused():
            rep = g.ask({"op": "submit", "pool": "p", "data": "after"})
            if rep["ok"]:
                waiting.append(rep["id"])
                return None
            return rep
        rep = wait_for(refused, timeout=20, interval=0.25,
                       what="unknown_pool on G")
        assert rep["error"] == "unknown_pool", rep
        assert "p" not in g.pools() or g.pools()["p"]["state"] == "removed"
        g.sup.wait_log("pool p: no live node of the cluster serves it now")

        # W back: G serves p again, and what waited runs.
        w.start()
        wait_gateway(g, "p")
        rep = g.ask({"op": "submit", "pool": "p", "data": "again",
                     "wait": True, "timeout": 10})
        assert rep["ok"] and rep["job"]["state"] == "done", rep
        for i in waiting:
            rep = g.ask({"op": "result", "id": i, "wait": True,
                         "timeout": 10})
            assert rep["ok"] and rep["job"]["state"] == "done", (
                rep, redis.cmd("KEYS", "*"), "\n".join(
                    g.sup.lines()[-25:] + ["----"] + w.sup.lines()[-25:]))
        assert g.sup.stop() == 0 and w.sup.stop() == 0


def test_exec_pool_through_a_gateway_checks_exec_jobs(tmp):
    cluster_authkey(tmp)
    with Redisd(tmp) as redis:
        w = Node(tmp, "w", redis, config(
            "pool_exec", name="x", workers=1,
            extra="max_queue = 7\noutput = capture\n"))
        # G has a pool of its own, unrelated to x.
        g = Node(tmp, "g", redis, stream_pool(
            os.path.join(tmp, "done-g.txt"), name="mine"))
        gx = wait_gateway(g, "x")["x"]
        assert gx["type"] == "exec" and gx["queue_max"] == 7, gx
        assert g.pools()["mine"]["origin"] == "config"
        rep = g.ask({"op": "submit", "pool": "x",
                     "args": ["sh", "-c", "echo via-gateway"],
                     "wait": True, "timeout": 10})
        assert rep["ok"] and rep["job"]["state"] == "done", rep
        assert "via-gateway" in rep["job"]["stdout"], rep
        # An exec job needs args or shell, checked by G as W would.
        rep = g.ask({"op": "submit", "pool": "x", "data": 1})
        assert not rep["ok"] and rep["error"] == "bad_request", rep
        assert "args" in rep["message"], rep
        rep = g.ask({"op": "submit", "pool": "x", "args": []})
        assert not rep["ok"] and rep["error"] == "bad_request", rep
        assert "must not be empty" in rep["message"], rep
        rep = g.ask({"op": "submit_many", "pool": "x",
                     "jobs": [{"args": ["true"]}, {"args": "true"}]})
        assert not rep["ok"] and rep["error"] == "bad_request", rep
        assert rep["message"].startswith("jobs[1]:"), rep
        assert g.sup.stop() == 0 and w.sup.stop() == 0


def test_reload_turns_a_gateway_pool_into_the_files_and_back(tmp):
    cluster_authkey(tmp)
    with Redisd(tmp) as redis:
        w = Node(tmp, "w", redis, stream_pool(os.path.join(tmp, "done-w.txt")))
        g = Node(tmp, "g", redis)
        wait_gateway(g, "p")
        bare = g.text
        # A section for p: the pool is the file's, with its workers.
        write(g.sup.config, bare + stream_pool(
            os.path.join(tmp, "done-g.txt"), workers=1))
        g.sup.signal(signal.SIGHUP)
        g.sup.wait_log("pool p, a gateway pool from the cluster so far, "
                       "is the file's from now on")
        gp = g.pools()["p"]
        assert gp["origin"] == "config" and gp["workers_target"] == 1, gp
        rep = g.ask({"op": "submit", "pool": "p", "data": "file",
                     "wait": True, "timeout": 10})
        assert rep["ok"] and rep["job"]["state"] == "done", rep
        # The section gone: W still serves p, so G takes it as a gateway
        # pool again (what it accepted before stays readable).
        write(g.sup.config, bare)
        g.sup.signal(signal.SIGHUP)
        g.sup.wait_log("reload: removing pool p")
        gp = wait_gateway(g, "p")["p"]
        assert gp["workers_target"] == 0, gp
        again = g.ask({"op": "submit", "pool": "p", "data": "gw",
                       "wait": True, "timeout": 10})
        assert again["ok"] and again["job"]["state"] == "done", again
        rep = g.ask({"op": "result", "id": rep["job"]["id"]})
        assert rep["ok"] and rep["job"]["result"] == "file", rep
        assert g.sup.stop() == 0 and w.sup.stop() == 0


def test_pool_removed_by_reload_on_a_cluster_node_is_forgotten(tmp):
    """A pool a reload removed is freed once stopped; the cluster queue
    forgets its part then, and the heartbeats that follow must not read
    it (under the sanitizers a freed one is caught)."""
    cluster_authkey(tmp)
    with Redisd(tmp) as redis:
        log = os.path.join(tmp, "done-n.txt")
        n = Node(tmp, "n", redis, stream_pool(log) +
                 stream_pool(log, name="q"))
        # q in the node's registry entry: the queue has met it. No job:
        # no record keeps the pool once it has stopped.
        wait_for(lambda: "q" in {p for x in n.ask({"op": "status"})[
            "status"]["cluster"]["nodes"] for p in x["pools"]},
            timeout=10, what="q in the registry")
        write(n.sup.config, n.text.split("[pool:q]")[0])
        n.sup.signal(signal.SIGHUP)
        n.sup.wait_log("reload: removing pool q")
        # Several heartbeats (every lease / 3) after the pool stopped.
        time.sleep(3)
        assert n.sup.proc.poll() is None
        rep = n.ask({"op": "submit", "pool": "q", "data": 1})
        assert not rep["ok"] and rep["error"] == "unknown_pool", rep
        rep = n.ask({"op": "submit", "pool": "p", "data": "p1",
                     "wait": True, "timeout": 10})
        assert rep["ok"] and rep["job"]["state"] == "done", rep
        # Back in the file: the same pool serves again.
        write(n.sup.config, n.text)
        n.sup.signal(signal.SIGHUP)
        n.sup.wait_log("reload: adding pool q")
        rep = n.ask({"op": "submit", "pool": "q", "data": "q2",
                     "wait": True, "timeout": 10})
        assert rep["ok"] and rep["job"]["state"] == "done", rep
        assert n.sup.stop() == 0


def test_named_client_of_a_gateway_keeps_to_its_pools(tmp):
    cluster_authkey(tmp)
    with Redisd(tmp) as redis:
        log = os.path.join(tmp, "done-w.txt")
        w = Node(tmp, "w", redis, stream_pool(log) +
                 stream_pool(log, name="other"))
        gdir = os.path.join(tmp, "g")
        os.makedirs(gdir)
        write(os.path.join(gdir, "ci.key"), os.urandom(16).hex() + "\n")
        os.chmod(os.path.join(gdir, "ci.key"), 0o600)
        # G has no pools; its client ci may submit to p only, a pool G
        # knows from the registry.
        g = Node(tmp, "g", redis, sup="authkey_file = authkey\n",
                 pools="[client:ci]\nauthkey_file = ci.key\npools = p\n")
        p = subprocess.run([MPSUP, "check", "-c", g.sup.config],
                           capture_output=True, text=True)
        assert p.returncode == 0, (p.stdout, p.stderr)
        wait_gateway(g, "p")
        wait_gateway(g, "other")
        ci = connect(g.dir, authkey="ci.key")
        rep = request(ci, {"op": "submit", "pool": "p", "data": "ci",
                           "wait": True, "timeout": 10})
        assert rep["ok"] and rep["job"]["state"] == "done", rep
        assert rep["job"]["client"] == "ci", rep
        rep = request(ci, {"op": "submit", "pool": "other", "data": 1})
        assert not rep["ok"] and rep["error"] == "forbidden", rep
        ci.close()
        # The default client may submit to every pool G serves.
        rep = g.ask({"op": "submit", "pool": "other", "data": "all",
                     "wait": True, "timeout": 10})
        assert rep["ok"] and rep["job"]["state"] == "done", rep
        assert g.sup.stop() == 0 and w.sup.stop() == 0


def entry(pools):
    return json.dumps({"node": "evil", "consumer": "evil:1",
                       "heartbeat": time.time(), "lease": 30, "ttl": 60,
                       "pools": {}, "capacity": {}, "serves": pools})


def test_hostile_registry_entries_make_no_bad_pools(tmp):
    cluster_authkey(tmp)
    with Redisd(tmp) as redis:
        g = Node(tmp, "g", redis)
        bad = {
            "a" * 65: {"type": "stream", "max_queue": 5},
            "x" * 100000: {"type": "stream", "max_queue": 5},
            "../etc": {"type": "stream", "max_queue": 5},
            "a b": {"type": "stream", "max_queue": 5},
            "{p}": {"type": "stream", "max_queue": 5},
            "nul\u0000x": {"type": "stream", "max_queue": 5},
            "": {"type": "stream", "max_queue": 5},
            "badtype": {"type": "shell", "max_queue": 5},
            "notype": {"max_queue": 5},
            "zeroq": {"type": "stream", "max_queue": 0},
            "hugeq": {"type": "stream", "max_queue": 10 ** 20},
            "floatq": {"type": "stream", "max_queue": 2.5},
            "strq": {"type": "stream", "max_queue": "5"},
            "notobj": "stream",
        }
        bad["good"] = {"type": "exec", "max_queue": 3}
        entries = {
            "evil:1": entry(bad),
            "evil:2": "{{{ not json",
            "evil:3": json.dumps({"serves": ["good2"]}),
            "evil:4": "[" * 100000,
            "evil:5": entry({"big": {"type": "stream", "max_queue": 5,
                                     "pad": "y" * 300000}}),
            "evil:6": "\x00\xff\xfe",
        }
        for c, v in entries.items():
            redis.cmd("SET", "mpsup:lease:" + c, "1", "EX", "300")
            redis.cmd("HSET", "mpsup:nodes", c, v)
        gp = wait_gateway(g, "good")
        # Only the one well-formed pool is taken, with its values.
        assert set(gp) == {"good"}, sorted(gp)[:10]
        assert gp["good"]["type"] == "exec", gp
        assert gp["good"]["queue_max"] == 3, gp
        # Too many names: at most 256 pools are taken from the registry.
        many = {"m%03d" % i: {"type": "stream", "max_queue": 5}
                for i in range(300)}
        redis.cmd("SET", "mpsup:lease:evil:7", "1", "EX", "300")
        redis.cmd("HSET", "mpsup:nodes", "evil:7", entry(many))
        g.sup.wait_log("this node has taken 256 pools from the registry",
                       timeout=15)
        taken = [n for n, p in g.pools().items() if p["origin"] == "cluster"]
        assert len(taken) == 256, len(taken)
        # The node still answers, and its status lists the nodes.
        st = g.ask({"op": "status"})["status"]
        assert st["cluster"]["connected"] is True, st["cluster"]
        # The entries gone: the pools are retired, submits refused.
        for c in list(entries) + ["evil:7"]:
            redis.cmd("HDEL", "mpsup:nodes", c)
        wait_for(lambda: g.ask({"op": "submit", "pool": "good",
                                "args": ["true"]}).get("error") ==
                 "unknown_pool", timeout=15, interval=0.25,
                 what="good retired")
        assert "good" not in g.pools()
        # Redis away: a pool G does not know answers unavailable, not
        # unknown_pool (a live node may serve it).
        redis.stop()
        wait_for(lambda: not g.ask({"op": "status"})["status"]["cluster"][
            "connected"], timeout=10, what="G sees Redis gone")
        rep = g.ask({"op": "submit", "pool": "somepool", "data": 1})
        assert not rep["ok"] and rep["error"] == "unavailable", rep
        assert g.sup.stop() == 0


if __name__ == "__main__":
    run_tests(globals(), timeout=240)
