"""Dead letters: a job that fails or times out for good is kept in its
pool's dead letters (dead_ttl), listed by the "dead" op and `mpsup dead`,
and queued again as a new job by "retry" / `mpsup retry`; with the SQLite
store they survive a restart."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (MPSUP, Supervisor, config, connect,  # noqa: E402
                     request, run_tests, wait_for, write)

# Fails every job until the file "fixed" exists.
PY_WORKER = r'''
import json, os, sys
out = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
for line in sys.stdin:
    job = json.loads(line)
    if os.path.exists("fixed"):
        r = {"id": job["id"], "ok": True, "result": job["data"]}
    else:
        r = {"id": job["id"], "ok": False, "error": "not fixed yet"}
    out.write(json.dumps(r) + "\n")
    out.flush()
'''


def ini(tmp, store="memory", pool_extra="", sup_extra=""):
    write(os.path.join(tmp, "w.py"), PY_WORKER)
    return (config("supervisor", legacy_md5="yes",
                   extra="log = -\nstore = %s\n%s" % (store, sup_extra))
            + config("pool_python", name="p", workers=1, extra=pool_extra)
            + "[pool:sh]\ntype = exec\nworkers = 2\njob_timeout = 300ms\n")


def cli(sup, *args):
    return subprocess.run([MPSUP] + list(args) + ["-c", sup.config],
                          capture_output=True, text=True, timeout=20)


def wait_job(c, jid):
    r = request(c, {"op": "result", "id": jid, "wait": True, "timeout": 20})
    assert r["ok"], r
    return r["job"]


def pool_status(c, name):
    r = request(c, {"op": "status"})
    return [p for p in r["status"]["pools"] if p["name"] == name][0]


def test_dead_letter_then_retry_ends_done(tmp):
    sup = Supervisor(tmp, ini(tmp))
    c = connect(tmp)
    r = request(c, {"op": "submit", "pool": "p", "data": {"n": 7},
                    "wait": True, "timeout": 20})
    old = r["job"]
    assert old["state"] == "failed" and old["dead"] is True, old
    assert pool_status(c, "p")["dead"] == 1
    out = cli(sup, "dead")
    assert out.returncode == 0 and old["id"] in out.stdout, out
    assert "not fixed yet" in out.stdout, out.stdout
    out = cli(sup, "dead", "-p", "p", "--json")
    listed = json.loads(out.stdout)
    assert [j["id"] for j in listed] == [old["id"]], listed
    write(os.path.join(tmp, "fixed"), "")
    out = cli(sup, "retry", old["id"])
    assert out.returncode == 0, out
    (new_id,) = out.stdout.split()
    new = wait_job(c, new_id)
    assert new["state"] == "done" and new["result"] == {"n": 7}, new
    assert new["retry_of"] == old["id"] and new["attempts"] == 1, new
    assert "dead" not in new
    again = request(c, {"op": "result", "id": old["id"]})["job"]
    assert again["state"] == "failed" and "dead" not in again, again
    assert request(c, {"op": "dead"})["jobs"] == []
    assert pool_status(c, "p")["dead"] == 0
    # Retried once is enough: it is no dead letter any more.
    r = request(c, {"op": "retry", "ids": [old["id"]]})
    assert not r["ok"] and r["error"] == "not_found", r
    c.close()
    assert sup.stop() == 0


def test_retry_all_of_a_pool_takes_failed_and_timed_out_jobs(tmp):
    sup = Supervisor(tmp, ini(tmp))
    c = connect(tmp)
    # Nothing to retry yet: an empty list, not an error (nor a crash: the
    # sanitizer builds stopped here on an empty sort).
    r = request(c, {"op": "retry", "pool": "sh", "all": True})
    assert r == {"ok": True, "ids": []}, r
    out = cli(sup, "retry", "-p", "sh", "--all")
    assert out.returncode == 0 and out.stdout == "", out
    a = request(c, {"op": "submit", "pool": "sh", "args": ["sleep", "5"],
                    "wait": True, "timeout": 20})["job"]
    b = request(c, {"op": "submit", "pool": "sh", "args": ["false"],
                    "wait": True, "timeout": 20})["job"]
    d = request(c, {"op": "submit", "pool": "sh", "args": ["true"],
                    "wait": True, "timeout": 20})["job"]
    assert (a["state"], b["state"], d["state"]) == \
        ("timed_out", "failed", "done")
    dead = request(c, {"op": "dead", "pool": "sh"})["jobs"]
    assert [j["id"] for j in dead] == [a["id"], b["id"]], dead
    assert request(c, {"op": "dead", "pool": "p"})["jobs"] == []
    out = cli(sup, "retry", "-p", "sh", "--all")
    assert out.returncode == 0, out
    ids = out.stdout.split()
    assert len(ids) == 2, out.stdout
    recs = [wait_job(c, i) for i in ids]
    assert sorted(r["retry_of"] for r in recs) == sorted([a["id"], b["id"]])
    # They fail again, so they are dead letters again, under new ids.
    assert sorted(j["id"] for j in
                  request(c, {"op": "dead", "pool": "sh"})["jobs"]) == \
        sorted(ids)
    c.close()
    assert sup.stop() == 0


def test_dead_letters_survive_a_restart_with_sqlite(tmp):
    text = ini(tmp, store="sqlite:store.db")
    sup = Supervisor(tmp, text)
    c = connect(tmp)
    old = request(c, {"op": "submit", "pool": "p", "data": [1, "two"],
                      "wait": True, "timeout": 20})["job"]
    assert old["dead"] is True
    c.close()
    assert sup.stop() == 0
    sup = Supervisor(tmp, text)
    c = connect(tmp)
    dead = request(c, {"op": "dead"})["jobs"]
    assert [j["id"] for j in dead] == [old["id"]], dead
    assert pool_status(c, "p")["dead"] == 1
    write(os.path.join(tmp, "fixed"), "")
    r = request(c, {"op": "retry", "ids": [old["id"]]})
    assert r["ok"], r
    new = wait_job(c, r["ids"][0])
    assert new["state"] == "done" and new["result"] == [1, "two"], new
    c.close()
    assert sup.stop() == 0
    # Retried before the restart: not a dead letter after it.
    sup = Supervisor(tmp, text)
    c = connect(tmp)
    assert request(c, {"op": "dead"})["jobs"] == []
    assert request(c, {"op": "result", "id": new["id"]})["job"][
        "retry_of"] == old["id"]
    c.close()
    assert sup.stop() == 0


def test_dead_ttl_bounds_how_long_dead_letters_stay(tmp):
    sup = Supervisor(tmp, ini(tmp, pool_extra="dead_ttl = 1s",
                              sup_extra="result_ttl = 1h"))
    c = connect(tmp)
    old = request(c, {"op": "submit", "pool": "p", "data": 1, "wait": True,
                      "timeout": 20})["job"]
    assert old["dead"] is True
    wait_for(lambda: request(c, {"op": "dead"})["jobs"] == [], timeout=5,
             what="the dead letter to expire")
    r = request(c, {"op": "result", "id": old["id"]})
    assert r["error"] == "not_found", r
    c.close()
    assert sup.stop() == 0


def test_dead_ttl_0_keeps_no_dead_letters(tmp):
    sup = Supervisor(tmp, ini(tmp, pool_extra="dead_ttl = 0"))
    c = connect(tmp)
    old = request(c, {"op": "submit", "pool": "p", "data": 1, "wait": True,
                      "timeout": 20})["job"]
    assert old["state"] == "failed" and "dead" not in old, old
    assert request(c, {"op": "dead"})["jobs"] == []
    assert pool_status(c, "p")["dead"] == 0
    c.close()
    assert sup.stop() == 0


def test_bad_retry_requests_are_refused(tmp):
    sup = Supervisor(tmp, ini(tmp))
    c = connect(tmp)
    done = request(c, {"op": "submit", "pool": "sh", "args": ["true"],
                       "wait": True})["job"]
    failed = request(c, {"op": "submit", "pool": "sh", "args": ["false"],
                         "wait": True})["job"]
    for req, code, text in (
            ({"op": "retry", "ids": ["0123456789abcdef"]}, "not_found",
             "not a dead letter"),
            ({"op": "retry", "ids": [done["id"]]}, "not_found",
             "not a dead letter"),
            ({"op": "retry", "ids": [failed["id"], failed["id"]]},
             "bad_request", "named twice"),
            ({"op": "retry", "ids": []}, "bad_request", "empty"),
            ({"op": "retry", "ids": [1]}, "bad_request", "job ids"),
            ({"op": "retry"}, "bad_request", "\"ids\""),
            ({"op": "retry", "all": True}, "bad_request", "\"pool\""),
            ({"op": "retry", "pool": "sh", "all": False}, "bad_request",
             "\"all\": true"),
            ({"op": "retry", "pool": "nope", "all": True}, "unknown_pool",
             "nope"),
            ({"op": "dead", "pool": "nope"}, "unknown_pool", "nope"),
            ({"op": "dead", "pool": 3}, "bad_request", "\"pool\"")):
        r = request(c, req)
        assert not r["ok"] and r["error"] == code and text in r["message"], \
            (req, r)
    assert [j["id"] for j in request(c, {"op": "dead"})["jobs"]] == \
        [failed["id"]]
    out = cli(sup, "retry")
    assert out.returncode == 2 and "usage" in out.stderr, out
    out = cli(sup, "retry", "-p", "sh")
    assert out.returncode == 2, out
    out = cli(sup, "retry", "0123456789abcdef")
    assert out.returncode == 1 and "not_found" in out.stderr, out
    c.close()
    assert sup.stop() == 0


def test_a_client_sees_and_retries_its_own_dead_letters_only(tmp):
    """dead and retry follow job ownership (SPEC section 11): a submit
    client lists and retries its own dead letters, to which another
    client's do not exist; a monitor lists all and retries none; the
    admin does both; a retried job stays its client's."""
    keys = {"alice": "a", "bob": "b", "grafana": "c", "admin": "d"}
    for name, ch in keys.items():
        write(os.path.join(tmp, name + ".key"), ch * 64 + "\n")
        os.chmod(os.path.join(tmp, name + ".key"), 0o600)
    clients = ("[client:alice]\nauthkey_file = alice.key\n"
               "[client:bob]\nauthkey_file = bob.key\n"
               "[client:grafana]\nauthkey_file = grafana.key\n"
               "role = monitor\n")
    sup = Supervisor(tmp, ini(tmp, sup_extra="admin_authkey_file = admin.key")
                     .replace("[pool:sh]\n", "[pool:sh]\ntrusted = yes\n")
                     + clients)
    c = {n: connect(tmp, authkey=n + ".key") for n in keys}
    old = request(c["alice"], {"op": "submit", "pool": "p", "data": 1,
                               "wait": True, "timeout": 20})["job"]
    assert old["dead"] is True and old["client"] == "alice", old
    assert request(c["bob"], {"op": "dead"})["jobs"] == []
    r = request(c["bob"], {"op": "retry", "ids": [old["id"]]})
    assert not r["ok"] and r["error"] == "not_found", r
    for who in ("alice", "grafana", "admin"):
        assert [j["id"] for j in request(c[who], {"op": "dead"})["jobs"]] \
            == [old["id"]], who
    r = request(c["grafana"], {"op": "retry", "ids": [old["id"]]})
    assert not r["ok"] and r["error"] == "forbidden", r
    r = request(c["alice"], {"op": "retry", "ids": [old["id"]]})
    assert r["ok"], r
    new = wait_job(c["alice"], r["ids"][0])
    assert new["client"] == "alice" and new["retry_of"] == old["id"], new
    for conn in c.values():
        conn.close()
    assert sup.stop() == 0


if __name__ == "__main__":
    run_tests(globals())
