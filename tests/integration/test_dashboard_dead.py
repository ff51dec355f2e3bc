"""The dashboard's schedules and dead letters in headless Chromium: both
are shown read-only; a Retry button appears only when the page is opened
with the admin token (/#admin=TOKEN, then taken out of the address bar),
and clicking it queues the dead letter again, which then ends done."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import connect, request, run_tests, wait_for, write  # noqa: E402
from test_dashboard import CHROMIUM, DevTools  # noqa: E402
from test_http import get, start  # noqa: E402

TOKEN = "fedcba9876543210fedcba9876543210"
ADMIN = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"

POOLS = harness.config("pool_exec", name="sh", workers=2) + (
    "[schedule:nightly]\npool = sh\ncron = 30 2 * * *\nargs = true\n"
    "[schedule:tick]\npool = sh\nevery = 1s\nargs = true\n")

# Each row's data-id (or data-name), then the text of its cells.
ROWS = ("JSON.stringify(Array.from(document.querySelectorAll(%s)).map("
        "function (r) { return [r.dataset.id || r.dataset.name].concat("
        "Array.from(r.cells).map(function (c) { return c.textContent; })); }))")


def rows(dt, selector):
    return json.loads(dt.evaluate(ROWS % json.dumps(selector)))


def setup(tmp):
    """Chromium present, both tokens, a supervisor and one dead letter."""
    if not os.path.exists(CHROMIUM):
        raise harness.Skip("no %s" % CHROMIUM)
    for name, text in (("token", TOKEN), ("admin", ADMIN)):
        os.chmod(write(os.path.join(tmp, name), text + "\n"), 0o600)
    sup, port = start(tmp, pools=POOLS, extra="status_token_file = token\n"
                      "status_admin_token_file = admin")
    c = connect(tmp)
    r = request(c, {"op": "submit", "pool": "sh", "wait": True, "timeout": 20,
                    "args": ["sh", "-c", "test -f '%s' || exit 7"
                             % os.path.join(tmp, "fixed")]})
    assert r["job"]["state"] == "failed" and r["job"]["dead"] is True, r
    return sup, port, c, r["job"]


def test_dashboard_shows_schedules_and_dead_letters_read_only(tmp):
    sup, port, c, dead = setup(tmp)
    dt = DevTools(tmp, "http://127.0.0.1:%d/#token=%s" % (port, TOKEN))
    try:
        dt.wait("document.querySelectorAll('tr.schedule').length == 2 && "
                "document.querySelectorAll('tr.dead-letter').length == 1",
                "the schedules and the dead letter")
        sched = {r[0]: r[1:] for r in rows(dt, "tr.schedule")}
        # name, pool, when, next run, last run, submitted
        assert sched["nightly"][:3] == ["nightly", "sh", "cron 30 2 * * *"], sched
        assert sched["nightly"][3].endswith(" 02:30:00.000 UTC"), sched
        assert sched["nightly"][4:] == ["never", "0"], sched
        assert sched["tick"][:3] == ["tick", "sh", "every 1s"], sched
        dt.wait("(function () { var r = document.querySelector("
                "'tr.schedule[data-name=tick] td.submitted'); "
                "return r && Number(r.textContent) >= 2; })()",
                "the 1 s schedule's submissions to show")
        assert rows(dt, "tr.schedule[data-name=tick]")[0][5] != "never"
        (row,) = rows(dt, "tr.dead-letter")
        # id, pool, exit / error, attempts, ended (and no Retry column)
        assert row[:5] == [dead["id"], dead["id"], "sh", "exit status 7", "1"], row
        assert row[5].endswith(" ago") and len(row) == 6, row
        assert dt.evaluate("document.querySelectorAll('button.retry').length") == 0
        assert dt.evaluate("document.getElementById('dead-act').hidden") is True
        assert "read-only" in dt.evaluate("document.getElementById('dead-sum').textContent")
    finally:
        dt.close()
    c.close()
    assert sup.stop() == 0


def test_dashboard_retry_button_needs_the_admin_token_and_requeues(tmp):
    sup, port, c, dead = setup(tmp)
    # A wrong admin token: the page falls back to reading, without buttons.
    dt = DevTools(tmp, "http://127.0.0.1:%d/#token=%s&admin=wrong-admin-token"
                  % (port, TOKEN))
    try:
        dt.wait("document.querySelectorAll('tr.dead-letter').length == 1 && "
                "document.getElementById('dead-note').textContent.indexOf('refused') >= 0",
                "the dead letter, read-only, after the admin token was refused")
        assert dt.evaluate("document.querySelectorAll('button.retry').length") == 0
    finally:
        dt.close()
    assert request(c, {"op": "dead"})["jobs"][0]["id"] == dead["id"]

    write(os.path.join(tmp, "fixed"), "")
    dt = DevTools(tmp, "http://127.0.0.1:%d/#admin=%s" % (port, ADMIN))
    try:
        dt.wait("document.querySelectorAll('button.retry').length == 1",
                "the Retry button with the admin token")
        # The admin token leaves the address bar once read.
        assert dt.evaluate("location.href") == "http://127.0.0.1:%d/" % port
        assert dt.evaluate("document.getElementById('dead-act').hidden") is False
        dt.evaluate("document.querySelector('tr.dead-letter[data-id=\"%s\"] "
                    "button.retry').click()" % dead["id"])
        note = dt.wait("(function () { var t = document.getElementById('dead-note')"
                       ".textContent; return t.indexOf('Retried') >= 0 && t; })()",
                       "the retry to be reported")
        new_id = note.split(" as ")[1]
        assert note == "Retried %s as %s" % (dead["id"], new_id), note
        dt.wait("document.querySelectorAll('tr.dead-letter').length == 0",
                "the dead letter to leave the table")
    finally:
        dt.close()
    new = request(c, {"op": "result", "id": new_id, "wait": True, "timeout": 20})["job"]
    assert new["state"] == "done" and new["retry_of"] == dead["id"], new
    assert new["client"] == dead["client"], (new, dead)
    assert request(c, {"op": "dead"})["jobs"] == []
    # The page's GETs changed nothing else: one retry, one new job.
    assert get(port, "/retry?id=" + dead["id"])[0] == 405
    c.close()
    assert sup.stop() == 0


if __name__ == "__main__":
    run_tests(globals(), timeout=120)
