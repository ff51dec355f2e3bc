"""The dashboard page (GET /) in a real browser: headless Chromium loads it
from a running supervisor and must render the pools and their live workers
from /status, the recent jobs with failures first from /jobs, a job's record
and output from /job, the last hour's charts and what each worker costs.
Screenshots at laptop and phone size are kept under tests/artifacts/ in the
build folder (or MPSUP_SCREENSHOT_DIR) for CI to show."""
import base64
import html.parser
import json
import os
import re
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

POOLS = harness.config("pool_exec", name="alpha", workers=2,
                       extra="output = both") + harness.config(
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

    def page(self, method, params=None):
        """A Page./Emulation. call on the attached page."""
        if self.session is None:
            self.evaluate("1")
        return self.call(method, params)

    def wait(self, expression, what, timeout=30):
        """Wait until expression is truthy in the page; its value."""
        return wait_for(lambda: self.evaluate(expression), timeout=timeout,
                        interval=0.2, what=what)

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


def some_jobs(tmp):
    """Jobs to show: one done, one failed with output, then a newer one done."""
    c = connect(tmp)

    def run(pool, args, state):
        r = request(c, {"op": "submit", "pool": pool, "args": args,
                        "wait": True, "timeout": 20})
        assert r["ok"] and r["job"]["state"] == state, r
        return r["id"]
    ids = {"old": run("alpha", ["echo", "fine"], "done")}
    ids["failed"] = run("alpha", ["sh", "-c", "echo partial output; echo; "
                                  "echo 'error: disk full on /data' >&2; "
                                  "echo more >&2; exit 3"], "failed")
    ids["new"] = run("beta-pool", ["true"], "done")
    return c, ids


# Each job row: its data-id, data-state, then the text of its cells.
ROWS = ("JSON.stringify(Array.from(document.querySelectorAll('tr.job')).map("
        "function (r) { return [r.dataset.id, r.dataset.state].concat("
        "Array.from(r.cells).map(function (c) { return c.textContent; })); }))")


def text_of(dt, selector):
    return dt.evaluate("(function () { var e = document.querySelector(%s); "
                       "return e && !e.closest('[hidden]') ? e.textContent : null; })()"
                       % json.dumps(selector))


def test_dashboard_lists_failures_first_and_opens_a_job(tmp):
    sup, port = start(tmp, pools=POOLS)
    c, ids = some_jobs(tmp)
    dt = DevTools(tmp, "http://127.0.0.1:%d/" % port)
    try:
        rows = json.loads(dt.wait("document.querySelectorAll('tr.job').length >= 3 && "
                                  + ROWS, "the recent jobs"))
        # The failure first although it is not the newest, then newest first.
        assert [r[0] for r in rows] == [ids["failed"], ids["new"], ids["old"]], rows
        # state, job, pool, exit / error, run time, ended, first line of stderr
        f = rows[0]
        assert f[1:6] == ["failed", "failed", ids["failed"], "alpha", "exit status 3"], f
        assert f[8] == "error: disk full on /data", f
        assert rows[1][2:5] == ["done", ids["new"], "beta-pool"], rows[1]
        assert "failed or timed out" in text_of(dt, "#recent-sum")
        # A click opens the job: its record and captured output.
        assert text_of(dt, "#job-view") is None
        dt.evaluate("document.querySelector('tr.job').click()")
        dt.wait("document.getElementById('job-stderr').textContent.indexOf('disk') >= 0",
                "the job's output")
        assert dt.evaluate("location.hash") == "#job=" + ids["failed"]
        assert text_of(dt, "#job-id") == ids["failed"]
        assert text_of(dt, "#job-stderr") == "error: disk full on /data\nmore\n"
        assert text_of(dt, "#job-stdout") == "partial output\n\n"
        assert text_of(dt, "#job-state") == "failed"
        assert text_of(dt, "[data-field='Exit code'] dd") == "3"
        assert text_of(dt, "[data-field='Pool'] dd") == "alpha"
        # By id, as typed: unknown and malformed ids say why.
        dt.evaluate("location.hash = 'job=0000000000000000'")
        msg = dt.wait("(function () { var m = document.getElementById('job-missing');"
                      " return !m.hidden && m.textContent; })()", "the unknown job")
        assert "no job '0000000000000000'" in msg, msg
        dt.evaluate("document.getElementById('lookup-id').value = 'nope';"
                    "document.querySelector('#lookup button').click()")
        dt.wait("document.getElementById('job-missing').textContent.indexOf('not a job id') >= 0",
                "the malformed id refused")
        dt.evaluate("document.getElementById('lookup-id').value = %s;"
                    "document.querySelector('#lookup button').click()" % json.dumps(ids["new"]))
        dt.wait("document.getElementById('job-id').textContent == %s && "
                "document.getElementById('job-missing').hidden && "
                "document.getElementById('job-state').textContent == 'done'"
                % json.dumps(ids["new"]), "the job typed in")
        dt.evaluate("document.getElementById('job-close').click()")
        assert text_of(dt, "#job-view") is None
    finally:
        dt.close()
    c.close()
    assert sup.stop() == 0


BUSY = "import time\nt = time.process_time()\nwhile time.process_time() - t < 60: pass\n"


def test_dashboard_charts_the_hour_and_what_workers_cost(tmp):
    sup, port = start(tmp, pools=POOLS)
    c, ids = some_jobs(tmp)
    spin = request(c, {"op": "submit", "pool": "beta-pool", "args": [sys.executable, "-c", BUSY]})
    assert spin["ok"], spin
    dt = DevTools(tmp, "http://127.0.0.1:%d/" % port)
    try:
        dt.wait("!!document.querySelector('figure.throughput[data-pool=\"alpha\"]')", "the charts")
        got = json.loads(dt.evaluate(
            "JSON.stringify(Array.from(document.querySelectorAll('figure.throughput')).map("
            "function (f) { return [f.dataset.pool, +f.dataset.done, +f.dataset.failed,"
            " +f.dataset.cancelled, f.querySelectorAll('rect.failed').length]; }))"))
        assert got == [["alpha", 1, 1, 0, 1], ["beta-pool", 1, 0, 0, 0]], got
        assert float(dt.evaluate("document.querySelector('figure.latency[data-pool=\"alpha\"]')"
                                 ".dataset.maxMs")) > 0
        # A bar for the bucket where the jobs ended, of the longest run.
        assert dt.evaluate("document.querySelectorAll('figure.latency[data-pool=\"alpha\"]"
                           " rect.max').length") >= 1
        # Each live worker: memory, and after two documents its CPU share;
        # the one spinning comes to show more than every idle one (how much
        # depends on the machine's load).
        rows = ("JSON.stringify(Array.from(document.querySelectorAll('tr.worker')).map("
                "function (x) { return [x.cells[3].textContent, x.querySelector('td.rss')"
                ".textContent, x.querySelector('td.cpu').textContent]; }))")

        def shares():
            cpu = json.loads(dt.evaluate(rows))
            for job, rss, share in cpu:
                assert re.match(r"^\d+(\.\d)? (KiB|MiB|GiB)$", rss), cpu
                assert re.match(r"^(\d+(\.\d)?%|\u2013)$", share), cpu
            busy = [float(x[2][:-1]) for x in cpu if x[0] == spin["id"] and x[2] != "\u2013"]
            idle = [float(x[2][:-1]) for x in cpu if x[0] != spin["id"] and x[2] != "\u2013"]
            return len(busy) == 1 and len(idle) == 2 and all(busy[0] > i for i in idle)
        wait_for(shares, timeout=30, interval=0.5, what="the spinning worker's CPU share")
    finally:
        dt.close()
    request(c, {"op": "cancel", "id": spin["id"]})
    c.close()
    assert sup.stop() == 0


def test_dashboard_takes_a_job_and_the_token_from_the_fragment(tmp):
    path = write(os.path.join(tmp, "token"), TOKEN + "\n")
    os.chmod(path, 0o600)
    sup, port = start(tmp, pools=POOLS, extra="status_token_file = token")
    c, ids = some_jobs(tmp)
    dt = DevTools(tmp, "http://127.0.0.1:%d/#token=%s&job=%s" % (port, TOKEN, ids["failed"]))
    try:
        dt.wait("document.getElementById('job-stderr').textContent.indexOf('disk') >= 0",
                "the job's output with the token", timeout=30)
        # The token leaves the address bar; the job stays.
        assert dt.evaluate("location.href") == "http://127.0.0.1:%d/#job=%s" % (
            port, ids["failed"])
        dt.wait("document.querySelectorAll('tr.job').length == 3", "the recent jobs")
    finally:
        dt.close()
    c.close()
    assert sup.stop() == 0


def artifacts_dir():
    """Where screenshots are kept for CI: MPSUP_SCREENSHOT_DIR, else
    tests/artifacts/ in the build folder."""
    d = os.environ.get("MPSUP_SCREENSHOT_DIR") or os.path.join(
        harness.BUILDDIR, "tests", "artifacts")
    os.makedirs(d, exist_ok=True)
    return d


def test_dashboard_screenshots_on_laptop_and_phone(tmp):
    sup, port = start(tmp, pools=POOLS)
    c, ids = some_jobs(tmp)
    c2, jid = running_job(tmp, port, "alpha")
    keep = artifacts_dir()
    url = "http://127.0.0.1:%d/" % port
    dt = DevTools(tmp, url)
    try:
        for name, (w, h), frag in (("laptop", (1280, 800), ""), ("phone", (390, 844), ""),
                                   ("job-laptop", (1280, 800), "#job=" + ids["failed"]),
                                   ("job-phone", (390, 844), "#job=" + ids["failed"])):
            dt.page("Emulation.setDeviceMetricsOverride", {
                "width": w, "height": h, "deviceScaleFactor": 1, "mobile": w < 600})
            dt.page("Page.navigate", {"url": "about:blank"})
            dt.page("Page.navigate", {"url": url + frag})
            dt.wait("document.querySelectorAll('tr.job').length >= 3 && "
                    "!!document.querySelector('figure.throughput') && "
                    "/%$/.test(document.querySelector('tr.worker td.cpu').textContent)",
                    "the page drawn at %dx%d, CPU shares too" % (w, h))
            if frag:
                dt.wait("document.getElementById('job-stderr').textContent.length > 0",
                        "the job drawn")
            # Readable: nothing wider than the screen, so no sideways scrolling
            # of the page (wide tables scroll inside their own box).
            width = dt.evaluate("document.documentElement.scrollWidth")
            assert width <= w, (name, width)
            font = dt.evaluate("parseFloat(getComputedStyle(document.querySelector("
                               "'table.jobs td')).fontSize)")
            assert font >= 11, (name, font)
            shot = dt.page("Page.captureScreenshot", {"format": "png"})
            path = os.path.join(keep, "dashboard-%s-%dx%d.png" % (name, w, h))
            with open(path, "wb") as f:
                f.write(base64.b64decode(shot["data"]))
            assert png_size(path) == (w, h), png_size(path)
            # Something was drawn: a blank page compresses to almost nothing.
            assert os.path.getsize(path) > 10000, os.path.getsize(path)
            print("# screenshot: %s" % path, flush=True)
    finally:
        dt.close()
    request(c2, {"op": "cancel", "id": jid})
    c.close()
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
