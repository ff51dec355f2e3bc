"""Dead letters over HTTP: GET /dead lists them (oldest first, bounded,
under the status token and status_hosts like /jobs), and POST /retry
queues one again, only with status_admin_token_file set and its token
sent, never from another site's page (Origin) nor under a Host not in
status_hosts, and never through a GET."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (MPSUP, Supervisor, config, connect, request,  # noqa: E402
                     run_tests, write)
from test_http import free_port, get, get_json, head, start  # noqa: E402

TOKEN = "0123456789abcdef0123456789abcdef"
ADMIN = "a5d1e0f2b3c4a5d6e7f8091a2b3c4d5e"

# "sh" runs a job that fails until the file "fixed" exists in the test's folder.
POOLS = config("pool_exec", name="sh", workers=2) + config(
    "pool_exec", name="other", workers=1)


def token_file(tmp, name, text, mode=0o600):
    path = write(os.path.join(tmp, name), text + "\n")
    os.chmod(path, mode)
    return path


def fail_until_fixed(tmp, c, pool="sh"):
    """A job that ends failed for good: a dead letter. Its record."""
    r = request(c, {"op": "submit", "pool": pool, "wait": True, "timeout": 20,
                    "args": ["sh", "-c", "test -f '%s'" % os.path.join(tmp, "fixed")]})
    assert r["ok"] and r["job"]["state"] == "failed" and r["job"]["dead"] is True, r
    return r["job"]


def post(port, path, headers=None, host="127.0.0.1"):
    return get(port, path, headers, method="POST", host=host)


def bearer(t):
    return {"Authorization": "Bearer " + t}


def test_dead_lists_dead_letters_oldest_first_bounded(tmp):
    sup, port = start(tmp, pools=POOLS)
    c = connect(tmp)
    first = fail_until_fixed(tmp, c)
    second = fail_until_fixed(tmp, c, "other")
    third = fail_until_fixed(tmp, c)
    done = request(c, {"op": "submit", "pool": "sh", "args": ["true"], "wait": True})
    assert done["job"]["state"] == "done", done
    doc = get_json(port, "/dead")
    assert doc["count"] == 3, doc
    assert [j["id"] for j in doc["jobs"]] == [first["id"], second["id"], third["id"]], doc
    j = doc["jobs"][0]
    assert j["pool"] == "sh" and j["state"] == "failed" and j["dead"] is True, j
    assert j["exit_code"] == 1 and j["attempts"] == 1 and j["finished_at"], j
    # The same record the socket's dead op gives, output aside.
    sock = request(c, {"op": "dead", "pool": "sh"})["jobs"]
    assert [s["id"] for s in sock] == [first["id"], third["id"]], sock
    assert {k: v for k, v in sock[0].items()} == j, (sock[0], j)
    doc = get_json(port, "/dead?pool=other")
    assert doc["count"] == 1 and [x["id"] for x in doc["jobs"]] == [second["id"]], doc
    doc = get_json(port, "/dead?limit=2")
    assert doc["count"] == 3 and [x["id"] for x in doc["jobs"]] == [first["id"], second["id"]]
    assert get_json(port, "/dead?limit=1000")["count"] == 3
    for path, code, says in (("/dead?limit=0", 400, b"limit:"),
                             ("/dead?limit=1001", 400, b"limit:"),
                             ("/dead?limit=x", 400, b"limit:"),
                             ("/dead?pool=nope", 404, b"unknown pool"),
                             ("/dead?state=failed", 400, b"unknown parameter 'state'")):
        got, _, body = get(port, path)
        assert got == code and says in body, (path, got, body)
    # Read-only: it takes no POST, and status_hosts applies without a token.
    assert post(port, "/dead")[0] == 405
    assert get(port, "/dead", {"Host": "evil.example:%d" % port})[0] == 421
    assert get_json(port, "/dead")["count"] == 3
    c.close()
    assert sup.stop() == 0


def test_dead_needs_the_status_token_when_set(tmp):
    token_file(tmp, "token", TOKEN)
    sup, port = start(tmp, pools=POOLS, extra="status_token_file = token")
    c = connect(tmp)
    dead = fail_until_fixed(tmp, c)
    assert get(port, "/dead")[0] == 401
    assert get(port, "/dead", bearer(TOKEN[:-1] + "0"))[0] == 401
    doc = get_json(port, "/dead", bearer(TOKEN))
    assert [j["id"] for j in doc["jobs"]] == [dead["id"]], doc
    # Without an admin token nothing can be retried, whatever is sent.
    code, _, body = post(port, "/retry?id=" + dead["id"], bearer(TOKEN))
    assert code == 404 and b"status_admin_token_file" in body, (code, body)
    assert "admin" not in get_json(port, "/status", bearer(TOKEN))
    c.close()
    assert sup.stop() == 0


def test_retry_is_refused_without_an_admin_token_configured(tmp):
    sup, port = start(tmp, pools=POOLS)
    c = connect(tmp)
    dead = fail_until_fixed(tmp, c)
    code, _, body = post(port, "/retry?id=" + dead["id"], bearer(ADMIN))
    assert code == 404 and b"needs status_admin_token_file" in body, (code, body)
    code, hdrs, _ = get(port, "/retry?id=" + dead["id"])
    assert code == 405 and hdrs["allow"] == "POST", (code, hdrs)
    assert "admin" not in get_json(port, "/status", bearer(ADMIN))
    assert [j["id"] for j in get_json(port, "/dead")["jobs"]] == [dead["id"]]
    c.close()
    assert sup.stop() == 0


def admin_start(tmp, extra=""):
    token_file(tmp, "token", TOKEN)
    token_file(tmp, "admin", ADMIN)
    return start(tmp, pools=POOLS, extra="status_token_file = token\n"
                 "status_admin_token_file = admin\n" + extra)


def test_retry_with_the_admin_token_requeues_and_ends_done(tmp):
    sup, port = admin_start(tmp)
    c = connect(tmp)
    dead = fail_until_fixed(tmp, c)
    url = "/retry?id=" + dead["id"]
    # No token, a wrong one, the status token: 403, and nothing happens.
    for h in ({}, bearer(ADMIN[:-1] + "0"), bearer(TOKEN), {"Authorization": ADMIN},
              {"Authorization": "Basic " + ADMIN}):
        code, _, body = post(port, url, h)
        assert code == 403 and b"forbidden" in body, (h, code, body)
    # No side effect through a GET, even with the admin token.
    code, hdrs, _ = get(port, url, bearer(ADMIN))
    assert code == 405 and hdrs["allow"] == "POST", (code, hdrs)
    # A page on another site: its Origin is refused, token or not.
    for origin in ("http://evil.example", "null", "https://evil.example",
                   "http://127.0.0.1:%d.evil.example" % port, "http://127.0.0.1"):
        code, _, body = post(port, url, dict(bearer(ADMIN), Origin=origin))
        assert code == 403 and b"Origin" in body, (origin, code, body)
    # DNS rebinding: the admin token does not lift status_hosts.
    code, _, _ = post(port, url, dict(bearer(ADMIN), Host="evil.example:%d" % port))
    assert code == 421, code
    assert get_json(port, "/dead", bearer(TOKEN))["count"] == 1
    # A body is refused; so are a bad id and an unknown parameter.
    code, _, _ = get(port, url, dict(bearer(ADMIN), **{"Content-Length": "2"}), method="POST")
    assert code == 400
    for path, want in (("/retry", 400), ("/retry?id=xyz", 400),
                       ("/retry?id=0000000000000000", 404),
                       ("/retry?id=%s&all=1" % dead["id"], 400)):
        assert post(port, path, bearer(ADMIN))[0] == want, path
    # The good one, from the dashboard's own origin.
    write(os.path.join(tmp, "fixed"), "")
    code, hdrs, body = post(port, url, dict(bearer(ADMIN), Origin="http://127.0.0.1:%d" % port))
    assert code == 200 and hdrs["content-type"] == "application/json", (code, body)
    r = json.loads(body)
    assert r["ok"] is True and r["id"] != dead["id"], r
    new = request(c, {"op": "result", "id": r["id"], "wait": True, "timeout": 20})["job"]
    assert new["state"] == "done" and new["retry_of"] == dead["id"], new
    assert new["client"] == dead["client"] and new["pool"] == "sh", (new, dead)
    assert get_json(port, "/dead", bearer(TOKEN))["count"] == 0
    # Retried already: no longer a dead letter.
    code, _, body = post(port, url, bearer(ADMIN))
    assert code == 404 and b"not a dead letter" in body, (code, body)
    c.close()
    assert sup.stop() == 0


def test_status_says_admin_only_to_the_admin_token(tmp):
    sup, port = admin_start(tmp)
    assert get_json(port, "/status", bearer(ADMIN))["admin"] is True
    assert "admin" not in get_json(port, "/status", bearer(TOKEN))
    # The admin token reads everything the status token does.
    for path in ("/jobs", "/dead", "/metrics"):
        assert get(port, path, bearer(ADMIN))[0] == 200, path
    assert get(port, "/status")[0] == 401
    assert sup.stop() == 0


def test_admin_token_file_is_checked_like_a_key(tmp):
    port = free_port()
    token_file(tmp, "token", TOKEN)
    token_file(tmp, "admin", TOKEN)
    text = head("127.0.0.1:%d" % port, "status_token_file = token\n"
                "status_admin_token_file = admin") + POOLS
    sup = Supervisor(tmp, text)
    assert sup.wait() == 2
    with open(sup.stderr_path) as f:
        err = f.read()
    assert "holds the same token as status_token_file" in err, err
    out = subprocess.run([MPSUP, "check", "-c", sup.config], capture_output=True,
                         text=True, timeout=20)
    assert out.returncode == 1 and "holds the same token" in out.stdout, out
    token_file(tmp, "admin", ADMIN, mode=0o644)
    out = subprocess.run([MPSUP, "check", "-c", sup.config], capture_output=True,
                         text=True, timeout=20)
    assert out.returncode == 1 and "status_admin_token_file" in out.stdout and \
        "readable by group or others" in out.stdout, out
    sup = Supervisor(tmp, text, log_name="again.log")
    assert sup.wait() == 2
    with open(sup.stderr_path) as f:
        err = f.read()
    assert "readable by group or others" in err, err
    os.chmod(os.path.join(tmp, "admin"), 0o600)
    out = subprocess.run([MPSUP, "check", "-c", sup.config], capture_output=True,
                         text=True, timeout=20)
    assert out.returncode == 0, out


if __name__ == "__main__":
    run_tests(globals())
