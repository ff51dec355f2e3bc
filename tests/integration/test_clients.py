"""Named clients, roles and job ownership (SPEC section 11), tried as an
attacker holding one client's key would, against the real supervisor:

  * a second submit client can neither read, wait for, nor cancel the
    first one's jobs: they answer not_found, exactly like a job that does
    not exist, in JSON and in pickle;
  * idempotency keys are per client;
  * a client's pools bound where it may submit (forbidden, before
    unknown_pool so that it learns no pool names);
  * the monitor role reads status and results and changes nothing;
  * status lists clients with role and connections, never a key;
  * check and start refuse two clients with one key, naming FILE:LINE.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (MPSUP, Supervisor, config, connect, request,  # noqa: E402
                     run_tests, wait_for, write)

CLIENTS = """
[client:alice]
authkey_file = alice.key
[client:bob]
authkey_file = bob.key
[client:ci]
authkey_file = ci.key
pools = slow
[client:grafana]
authkey_file = grafana.key
role = monitor
[client:ops]
authkey_file = ops.key
role = admin
"""


def keygen(tmp, *names):
    for n in names:
        r = subprocess.run([MPSUP, "keygen", os.path.join(tmp, n + ".key")],
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == 0, r.stderr


def start(tmp):
    keygen(tmp, "alice", "bob", "ci", "grafana", "ops")
    text = config("supervisor", legacy_md5="yes") + CLIENTS + \
        config("pool_echo", name="echo", workers=2, work_us=0, extra="") + \
        config("pool_echo", name="slow", workers=1, work_us=0,
               extra="max_queue = 100")
    sup = Supervisor(tmp, text)
    return sup, {n: connect(tmp, authkey=n + ".key")
                 for n in ("alice", "bob", "ci", "grafana", "ops")}


def err(reply, code):
    assert reply["ok"] is False and reply["error"] == code and \
        reply.get("message"), reply
    return reply["message"]


def test_another_clients_job_does_not_exist(tmp):
    sup, c = start(tmp)
    alice, bob = c["alice"], c["bob"]
    r = request(alice, {"op": "submit", "pool": "echo", "data": "mine",
                        "wait": True, "timeout": 10})
    assert r["ok"] and r["job"]["client"] == "alice", r
    done = r["id"]
    # A job still queued, so that cancel would have something to do.
    assert request(c["ops"], {"op": "pause", "pool": "echo"})["ok"]
    queued = request(alice, {"op": "submit", "pool": "echo", "data": "q"})["id"]
    missing = "0" * 16
    for jid in (done, queued):
        for req in ({"op": "result", "id": jid},
                    {"op": "result", "id": jid, "wait": True, "timeout": 1},
                    {"op": "cancel", "id": jid}):
            want = err(request(bob, dict(req, id=missing)), "not_found")
            got = err(request(bob, req), "not_found")
            # Word for word what a job that does not exist gets.
            assert got == want.replace(missing, jid), (got, want)
            bob.send(req)                      # pickled alike
            assert bob.recv()["error"] == "not_found"
    # Nothing happened to alice's jobs.
    r = request(alice, {"op": "result", "id": queued})
    assert r["ok"] and r["job"]["state"] == "queued", r
    # The admin sees and may cancel any job; the monitor reads any.
    r = request(c["grafana"], {"op": "result", "id": done})
    assert r["ok"] and r["job"]["result"] == "mine", r
    err(request(c["grafana"], {"op": "cancel", "id": queued}), "forbidden")
    r = request(c["ops"], {"op": "cancel", "id": queued})
    assert r["ok"] and r["state"] == "cancelled", r
    assert request(alice, {"op": "result", "id": queued})["job"]["state"] \
        == "cancelled"
    assert sup.stop() == 0


def test_idempotency_keys_are_per_client(tmp):
    sup, c = start(tmp)
    sub = {"op": "submit", "pool": "echo", "data": 1, "key": "order-17"}
    a1 = request(c["alice"], sub)["id"]
    a2 = request(c["alice"], dict(sub, data=2))["id"]
    b1 = request(c["bob"], sub)["id"]
    assert a1 == a2, (a1, a2)
    # bob's key is his own: a job of his, not a way to find alice's.
    assert b1 != a1
    r = request(c["bob"], {"op": "result", "id": b1, "wait": True,
                           "timeout": 10})
    assert r["ok"] and r["job"]["client"] == "bob" and \
        r["job"]["result"] == 1, r
    assert sup.stop() == 0


def test_pools_bound_where_a_client_may_submit(tmp):
    sup, c = start(tmp)
    ci = c["ci"]
    r = request(ci, {"op": "submit", "pool": "slow", "data": 1, "wait": True,
                     "timeout": 10})
    assert r["ok"] and r["job"]["client"] == "ci", r
    for pool in ("echo", "no-such-pool"):
        msg = err(request(ci, {"op": "submit", "pool": pool, "data": 1}),
                  "forbidden")
        assert "client 'ci' may not submit to pool '%s'" % pool in msg, msg
        err(request(ci, {"op": "submit_many", "pool": pool,
                         "jobs": [{"data": 1}]}), "forbidden")
        ci.send({"op": "submit", "pool": pool, "data": 1})
        assert ci.recv()["error"] == "forbidden"
    # Without pools =, a client sees unknown_pool as before.
    err(request(c["alice"], {"op": "submit", "pool": "no-such-pool",
                             "data": 1}), "unknown_pool")
    st = request(c["ops"], {"op": "status"})["status"]
    echo = [p for p in st["pools"] if p["name"] == "echo"][0]
    assert echo["jobs"]["submitted"] == 0, echo
    assert sup.stop() == 0


def test_monitor_reads_and_changes_nothing(tmp):
    sup, c = start(tmp)
    g = c["grafana"]
    st = request(g, {"op": "status"})
    assert st["ok"], st
    for req in ({"op": "submit", "pool": "echo", "data": 1},
                {"op": "submit_many", "pool": "echo", "jobs": [{"data": 1}]},
                {"op": "cancel", "id": "0" * 16},
                {"op": "pause", "pool": "echo"}, {"op": "reload"},
                {"op": "stop"}):
        msg = err(request(g, req), "forbidden")
        assert "client 'grafana' has the monitor role" in msg, msg
    # A submitter may not do what admins do.
    msg = err(request(c["alice"], {"op": "stop"}), "forbidden")
    assert "stop needs the admin role" in msg, msg
    assert sup.proc.poll() is None
    # The CLI picks, from the config, a client with the role it needs.
    r = subprocess.run([MPSUP, "ctl", "-c", sup.config, "pause", "echo"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, (r.stdout, r.stderr)
    r = subprocess.run([MPSUP, "submit", "-c", sup.config, "-p", "echo",
                        "-d", "7"], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 0, (r.stdout, r.stderr)
    # No client "default": the first client with a readable key submits.
    job = request(g, {"op": "result", "id": r.stdout.strip()})["job"]
    assert job["client"] == "alice", job
    st = request(g, {"op": "status"})["status"]
    assert [p for p in st["pools"] if p["name"] == "echo"][0]["paused"]
    assert sup.stop() == 0


def test_status_lists_clients_never_keys(tmp):
    sup, c = start(tmp)
    extra = connect(tmp, authkey="alice.key")

    def alice_conns():
        st = request(c["grafana"], {"op": "status"})["status"]
        return [x for x in st["clients"] if x["name"] == "alice"][0][
            "connections"]
    # The client is through once it sent #WELCOME#; the server soon after.
    wait_for(lambda: alice_conns() == 2, what="alice's second connection")
    st = request(c["grafana"], {"op": "status"})["status"]
    got = {x["name"]: (x["role"], x["connections"]) for x in st["clients"]}
    assert got == {"alice": ("submit", 2), "bob": ("submit", 1),
                   "ci": ("submit", 1), "grafana": ("monitor", 1),
                   "ops": ("admin", 1)}, got
    assert set(st["clients"][0]) == {"name", "role", "connections"}
    text = request(c["ops"], {"op": "status"}).__repr__()
    for n in ("alice", "bob", "ci", "grafana", "ops"):
        with open(os.path.join(tmp, n + ".key"), "rb") as f:
            assert f.read().strip().decode() not in text
    extra.close()
    wait_for(lambda: alice_conns() == 1, what="alice's second connection gone")
    assert sup.stop() == 0


def test_two_clients_with_one_key_are_refused(tmp):
    keygen(tmp, "alice")
    with open(os.path.join(tmp, "alice.key"), "rb") as f:
        key = f.read()
    fd = os.open(os.path.join(tmp, "bob.key"), os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, key)
    os.close(fd)
    text = config("supervisor") + \
        "[client:alice]\nauthkey_file = alice.key\n" + \
        "[client:bob]\nauthkey_file = bob.key\n" + \
        config("pool_echo", name="echo", workers=1, work_us=0, extra="")
    path = write(os.path.join(tmp, "pool.ini"), text)
    line = text.splitlines().index("[client:bob]") + 1
    want = "%s:%d: [client:bob] authkey_file: %s holds the same key as " \
        "[client:alice] authkey_file %s" % (path, line,
                                            os.path.join(tmp, "bob.key"),
                                            os.path.join(tmp, "alice.key"))
    r = subprocess.run([MPSUP, "check", "-c", path], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 1 and want in r.stdout, (r.returncode, r.stdout)
    p = subprocess.run([MPSUP, "-c", path], capture_output=True, text=True,
                       timeout=30, cwd=tmp)
    assert p.returncode == 2 and want in p.stderr, (p.returncode, p.stderr)
    # A key file others may read is named too.
    keygen(tmp, "bob2")
    os.chmod(os.path.join(tmp, "bob2.key"), 0o644)
    write(path, text.replace("bob.key", "bob2.key"))
    r = subprocess.run([MPSUP, "check", "-c", path], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 1 and "[client:bob] authkey_file" in r.stdout \
        and "bob2.key" in r.stdout, r.stdout


def test_reload_that_changes_clients_needs_a_restart(tmp):
    sup, c = start(tmp)
    with open(sup.config) as f:
        text = f.read()
    write(sup.config, text.replace("pools = slow", "pools = slow, echo"))
    r = request(c["ops"], {"op": "reload"})
    assert r["ok"] and "clients" in r["message"], r
    # The old rights still hold until the restart.
    err(request(c["ci"], {"op": "submit", "pool": "echo", "data": 1}),
        "forbidden")
    assert sup.stop() == 0


if __name__ == "__main__":
    run_tests(globals())
