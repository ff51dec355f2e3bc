"""The dashboard's Cluster panel in headless Chromium: on a node of a two
node cluster it lists both nodes (this one marked) with their pools,
capacity and heartbeat age, and each pool's cluster-wide depth, which
follows jobs waiting for busy workers; with Redis stopped it says the node
is not connected, and why, in the panel and the banner. On one machine
the panel stays hidden."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import connect, request, run_tests, wait_for  # noqa: E402
from redisd import Redisd  # noqa: E402
from test_cluster_status import both_listed, need_redis, node, warm  # noqa: E402
from test_dashboard import CHROMIUM, DevTools  # noqa: E402
from test_http import start  # noqa: E402

# Each row's data-node (or data-pool), then the text of its cells.
ROWS = ("JSON.stringify(Array.from(document.querySelectorAll(%s)).map("
        "function (r) { return [r.dataset.node || r.dataset.pool].concat("
        "Array.from(r.cells).map(function (c) { return c.textContent; })); }))")


def rows(dt, selector):
    return json.loads(dt.evaluate(ROWS % json.dumps(selector)))


def need_chromium():
    if not os.path.exists(CHROMIUM):
        raise harness.Skip("no %s" % CHROMIUM)


def text(dt, id_):
    return dt.evaluate("document.getElementById(%s).textContent"
                       % json.dumps(id_))


def test_cluster_panel_lists_nodes_and_depths(tmp):
    need_chromium()
    need_redis()
    with Redisd(tmp) as r:
        a, b = node(tmp, "a", r), node(tmp, "b", r, workers=2)
        warm(a)
        wait_for(lambda: both_listed(a), timeout=10, what="both nodes listed")
        dt = DevTools(tmp, "http://127.0.0.1:%d/" % a.port)
        try:
            dt.wait("document.querySelectorAll('tr.cluster-node').length == 2"
                    " && !document.getElementById('cluster').hidden",
                    "the cluster panel with two nodes")
            nodes = {row[0]: row[1:] for row in rows(dt, "tr.cluster-node")}
            # node, pools, capacity, heartbeat
            assert nodes["a"][:3] == ["a (this node)", "p", "p=1"], nodes
            assert nodes["b"][:3] == ["b", "p", "p=2"], nodes
            for n in nodes.values():
                assert n[3].endswith(" s ago"), nodes
            assert dt.evaluate("document.querySelectorAll("
                               "'tr.cluster-node.self').length") == 1
            assert text(dt, "cluster-sum") == "%s/0 \u00b7 node a \u00b7 " \
                "connected" % r.url, text(dt, "cluster-sum")
            dt.wait("%s == %s" % (ROWS % json.dumps("tr.cluster-pool"),
                                  json.dumps(json.dumps(
                                      [["p", "p", "0", "0", "0"]],
                                      separators=(",", ":")))),
                    "pool p with nothing queued, running or delayed")
            # Four jobs for three workers: one waits, cluster-wide.
            c = connect(a.dir)
            for _ in range(4):
                request(c, {"op": "submit", "pool": "p",
                            "args": ["sleep", "60"]})
            dt.wait("(function () { var r = document.querySelector("
                    "'tr.cluster-pool[data-pool=p]'); return r && "
                    "r.cells[1].textContent == '1' && "
                    "r.cells[2].textContent == '3'; })()",
                    "the depth: 1 queued, 3 running", timeout=20)
            c.close()
            r.stop()
            sum_ = dt.wait("(function () { var t = document.getElementById("
                           "'cluster-sum').textContent; return t.indexOf("
                           "'not connected') >= 0 && t; })()",
                           "not connected in the panel")
            # The error (the link's last one) changes as reconnects fail.
            head = "%s/0 \u00b7 node a \u00b7 not connected: " % r.url
            assert sum_.startswith(head) and sum_.endswith(
                " (as last seen)") and len(sum_) > len(head) + 15, sum_
            banner = text(dt, "banner")
            assert "Not connected to the cluster's Redis" in banner, banner
            assert dt.evaluate("document.getElementById('banner').hidden") \
                is False
            # The nodes stay listed as last seen.
            assert len(rows(dt, "tr.cluster-node")) == 2
        finally:
            dt.close()


def test_gateway_pool_from_the_cluster_is_marked(tmp):
    need_chromium()
    need_redis()
    import test_cluster_gateway as gw
    gw.cluster_authkey(tmp)
    with Redisd(tmp) as r:
        w = gw.Node(tmp, "w", r, gw.stream_pool(os.path.join(tmp, "d.txt")),
                    status="on")
        g = gw.Node(tmp, "g", r, status="on")
        gw.wait_gateway(g, "p")
        mark = ("(function () { var s = document.querySelector("
                "'section.pool[data-pool=p]'); if (!s) return null; "
                "var t = s.querySelector('.tag.cluster'); "
                "return t ? t.textContent : ''; })()")
        for n, want in ((g, "from cluster"), (w, "")):
            dt = DevTools(tmp, "http://127.0.0.1:%d/" % n.port)
            try:
                dt.wait("document.querySelectorAll('section.pool').length "
                        "== 1", "pool p on %s's dashboard" % n.name)
                assert dt.evaluate(mark) == want, (n.name, dt.evaluate(mark))
            finally:
                dt.close()
        assert g.sup.stop() == 0 and w.sup.stop() == 0


def test_cluster_panel_hidden_on_one_machine(tmp):
    need_chromium()
    sup, port = start(tmp, pools=harness.config("pool_exec", name="p",
                                                workers=1))
    dt = DevTools(tmp, "http://127.0.0.1:%d/" % port)
    try:
        dt.wait("document.querySelectorAll('section.pool').length == 1",
                "the pool")
        assert dt.evaluate("document.getElementById('cluster').hidden") \
            is True
        assert dt.evaluate("document.querySelectorAll('tr.cluster-node')"
                           ".length") == 0
    finally:
        dt.close()
    assert sup.stop() == 0


if __name__ == "__main__":
    run_tests(globals(), timeout=120)
