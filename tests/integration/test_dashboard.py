"""The dashboard page (GET /) in a real browser: headless Chromium loads it
from a running supervisor and must render the pools and their live workers
from /status."""
import html.parser
import json
import os
import select
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (connect, kill_group, pid_alive, request, run_tests,  # noqa: E402
                     spawn, wait_for, worker_pids, write)
from test_http import get, get_json, start  # noqa: E402

CHROMIUM = "/usr/bin/chromium"

POOLS = harness.config("pool_exec", name="alpha", workers=2) + harness.config(
    "pool_exec", name="beta-pool", workers=1)

TOKEN = "fedcba9876543210fedcba9876543210"


def chromium(tmp, url, *extra):
    """Run headless Chromium on url; returns its stdout (the DOM with --dump-dom)."""
    n = len([d for d in os.listdir(tmp) if d.startswith("chromium-")])
    profile = os.path.join(tmp, "chromium-%d" % n)
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync",
            "--user-data-dir=" + profile, "--virtual-time-budget=5000"] + list(extra) + [url]
    with open(os.path.join(tmp, "chromium-%d.err" % n), "wb") as err:
        p = spawn(argv, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
        try:
            out, _ = p.communicate(timeout=45)
        finally:
            kill_group(p)
    assert p.returncode == 0, "chromium exited with %s" % p.returncode
    return out.decode("utf-8", "replace")


class DevTools:
    """Headless Chromium on url, driven over --remote-debugging-pipe (the
    DevTools protocol: JSON messages ended by NUL on fds 3 and 4), to read
    what --dump-dom cannot show, such as the page's own address."""

    def __init__(self, tmp, url):
        n = len([d for d in os.listdir(tmp) if d.startswith("chromium-")])
        profile = os.path.join(tmp, "chromium-%d" % n)
        cmd_r, self.cmd_w = os.pipe()
        self.ev_r, ev_w = os.pipe()

        def fds():
            a, b = os.dup(cmd_r), os.dup(ev_w)
            os.dup2(a, 3)
            os.dup2(b, 4)
        argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--user-data-dir=" + profile,
                "--remote-debugging-pipe", url]
        with open(os.path.join(tmp, "chromium-%d.err" % n), "wb") as err:
            # Python's own descriptors are not inherited; 3 and 4 are.
            self.proc = spawn(argv, stdout=subprocess.DEVNULL, stderr=err,
                              stdin=subprocess.DEVNULL, close_fds=False,
                              preexec_fn=fds)
        os.close(cmd_r)
        os.close(ev_w)
        self.buf = b""
        self.last_id = 0
        self.session = None

    def call(self, method, params=None, timeout=10.0):
        self.last_id += 1
        msg = {"id": self.last_id, "method": method, "params": params or {}}
        if self.session is not None and not method.startswith(("Target.", "Browser.")):
            msg["sessionId"] = self.session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                m = json.loads(raw)
                if m.get("id") == self.last_id:
                    assert "error" not in m, m
                    return m["result"]
            if select.select([self.ev_r], [], [], 0.5)[0]:
                data = os.read(self.ev_r, 65536)
                assert data, "chromium closed the DevTools pipe"
                self.buf += data
        raise AssertionError("no answer to %s" % method)

    def evaluate(self, expression):
        """The value of expression in the page (attaching on first use)."""
        if self.session is None:
            pages = wait_for(lambda: [t for t in self.call("Target.getTargets")["targetInfos"]
                                      if t["type"] == "page"], what="the page target")
            self.session = self.call("Target.attachToTarget", {
                "targetId": pages[0]["targetId"], "flatten": True})["sessionId"]
        r = self.call("Runtime.evaluate", {"expression": expression,
                                           "returnByValue": True})
        return r["result"].get("value")

    def close(self):
        try:
            self.call("Browser.close")
            self.proc.wait(timeout=10)
        except (AssertionError, OSError, subprocess.TimeoutExpired):
            pass
        finally:
            kill_group(self.proc)
            self.proc.wait()
            os.close(self.cmd_w)
            os.close(self.ev_r)


class Dom(html.parser.HTMLParser):
    """What the page rendered: pool sections, worker rows and a few ids."""

    def __init__(self, text):
        super().__init__()
        self.pools = {}         # name -> [worker rows: {"pid": ..., "cells": [...]}]
        self.pool = None
        self.row = None
        self.cell = None
        self.text_of = {}       # element id -> text
        self.hidden = set()     # ids with the hidden attribute
        self.open_id = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.text_of[a["id"]] = ""
            if "hidden" in a:
                self.hidden.add(a["id"])
        self.open_id.append(a.get("id"))
        if tag == "section" and "pool" in a.get("class", "").split():
            self.pool = a["data-pool"]
            self.pools[self.pool] = []
        elif tag == "tr" and "worker" in a.get("class", "").split():
            self.row = {"pid": a.get("data-pid"), "cells": []}
            self.pools[self.pool].append(self.row)
        elif tag == "td" and self.row is not None:
            self.cell = ""

    def handle_endtag(self, tag):
        if self.open_id:
            self.open_id.pop()
        if tag == "td" and self.row is not None and self.cell is not None:
            self.row["cells"].append(self.cell.strip())
            self.cell = None
        elif tag == "tr":
            self.row = None
        elif tag == "section":
            self.pool = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data
        for i in self.open_id:
            if i:
                self.text_of[i] += data


def running_job(tmp, port, pool):
    c = connect(tmp)
    jid = request(c, {"op": "submit", "pool": pool, "args": ["sleep", "30"]})["id"]
    wait_for(lambda: [p for p in get_json(port)["pools"] if p["name"] == pool][0]
             ["jobs"]["running"] == 1, what="the job to run")
    return c, jid


def test_dashboard_renders_pools_and_live_workers(tmp):
    sup, port = start(tmp, pools=POOLS)
    c, jid = running_job(tmp, port, "beta-pool")
    dom = Dom(chromium(tmp, "http://127.0.0.1:%d/" % port, "--dump-dom"))
    assert sorted(dom.pools) == ["alpha", "beta-pool"], dom.pools
    for pool in ("alpha", "beta-pool"):
        live = worker_pids(sup, pool)
        shown = sorted(int(r["pid"]) for r in dom.pools[pool] if r["pid"])
        assert shown == live and live, (pool, shown, live)
        for pid in shown:
            assert pid_alive(pid)
        for r in dom.pools[pool]:
            # #, pid, state, current job, jobs done, restarts, up
            assert r["cells"][1] == r["pid"] and r["cells"][2] in ("idle", "busy"), r
    busy = [r for r in dom.pools["beta-pool"] if r["cells"][2] == "busy"]
    assert len(busy) == 1 and busy[0]["cells"][3] == jid, dom.pools["beta-pool"]
    assert "pid %d" % sup.pid in dom.text_of["meta"], dom.text_of["meta"]
    assert dom.text_of["live"] == "live", dom.text_of
    assert "auth" in dom.hidden
    request(c, {"op": "cancel", "id": jid})
    assert sup.stop() == 0


def test_dashboard_takes_the_token_from_the_fragment_or_asks(tmp):
    path = write(os.path.join(tmp, "token"), TOKEN + "\n")
    os.chmod(path, 0o600)
    sup, port = start(tmp, pools=POOLS, extra="status_token_file = token")
    assert get(port, "/status")[0] == 401
    dom = Dom(chromium(tmp, "http://127.0.0.1:%d/#token=%s" % (port, TOKEN), "--dump-dom"))
    assert sorted(dom.pools) == ["alpha", "beta-pool"], dom.pools
    assert all(r["pid"] for rows in dom.pools.values() for r in rows)
    assert "auth" in dom.hidden
    # The token leaves the address bar (and so history and bookmarks) once
    # read, while the page goes on using it.
    dt = DevTools(tmp, "http://127.0.0.1:%d/#token=%s" % (port, TOKEN))
    try:
        wait_for(lambda: dt.evaluate(
            "document.querySelectorAll('tr.worker').length") == 3,
            what="workers shown with the token", timeout=30)
        href = dt.evaluate("location.href")
        assert href == "http://127.0.0.1:%d/" % port, href
        seen = dt.evaluate("document.querySelectorAll('tr.worker').length")
        time.sleep(1.5)     # a later poll still has the token
        assert dt.evaluate("document.getElementById('live').textContent") != \
            "token needed", "token lost after the first poll"
        assert dt.evaluate("document.querySelectorAll('tr.worker').length") == seen
    finally:
        dt.close()
    # Without it the page shows no data and asks for the token.
    dom = Dom(chromium(tmp, "http://127.0.0.1:%d/" % port, "--dump-dom"))
    assert dom.pools == {}, dom.pools
    assert "auth" not in dom.hidden, "no token prompt"
    assert dom.text_of["live"] == "token needed", dom.text_of["live"]
    dom = Dom(chromium(tmp, "http://127.0.0.1:%d/#token=wrong-token" % port, "--dump-dom"))
    assert dom.pools == {} and "auth" not in dom.hidden
    assert dom.text_of["live"] == "token refused", dom.text_of["live"]
    assert sup.stop() == 0


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", "not a PNG"
    return struct.unpack(">II", head[16:24])


def test_dashboard_screenshots_on_laptop_and_phone(tmp):
    sup, port = start(tmp, pools=POOLS)
    c, jid = running_job(tmp, port, "alpha")
    keep = os.environ.get("MPSUP_SCREENSHOT_DIR")
    for name, size in (("laptop", (1280, 800)), ("phone", (390, 844))):
        shot = os.path.join(tmp, name + ".png")
        chromium(tmp, "http://127.0.0.1:%d/" % port, "--screenshot=" + shot,
                 "--window-size=%d,%d" % size, "--hide-scrollbars")
        assert png_size(shot) == size, png_size(shot)
        # Something was drawn: a blank page compresses to almost nothing.
        assert os.path.getsize(shot) > 10000, os.path.getsize(shot)
        if keep:
            with open(shot, "rb") as f, open(os.path.join(keep, name + ".png"), "wb") as g:
                g.write(f.read())
    request(c, {"op": "cancel", "id": jid})
    assert sup.stop() == 0


def test_dashboard_warns_while_the_job_store_fails(tmp):
    """A full disk under a sqlite store: the banner says so."""
    if os.geteuid() != 0:
        raise harness.Skip("needs root to mount a small tmpfs")
    db = os.path.join(tmp, "db")
    os.makedirs(db)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", db],
                   check=True)
    try:
        sup, port = start(tmp, pools=POOLS,
                          extra="store = sqlite:%s/jobs.db" % db)
        dom = Dom(chromium(tmp, "http://127.0.0.1:%d/" % port, "--dump-dom"))
        assert "banner" in dom.hidden, dom.text_of.get("banner")
        with open(os.path.join(db, "filler"), "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"x" * 65536)
            except OSError:
                pass
        c = connect(tmp)
        big = "y" * 200000
        wait_for(lambda: not request(c, {"op": "submit", "pool": "alpha",
                                         "args": ["true"], "stdin": big})["ok"],
                 what="a store_error")
        assert get_json(port)["mpsup"]["store_stats"]["failing"]
        dom = Dom(chromium(tmp, "http://127.0.0.1:%d/" % port, "--dump-dom"))
        assert "banner" not in dom.hidden
        assert "job store is failing" in dom.text_of["banner"], dom.text_of
        c.close()
        assert sup.stop() == 0
    finally:
        subprocess.run(["umount", "-l", db], check=False)


if __name__ == "__main__":
    if not os.path.exists(CHROMIUM):
        print("1..1")
        print("ok 1 # SKIP no chromium")
        sys.exit(0)
    run_tests(globals())
