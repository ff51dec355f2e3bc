"""The client subcommands (submit, result, status, ctl, keygen) against a
real supervisor: requests, output and every exit status of SPEC section 2."""
import json
import os
import signal
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (MPSUP, SRCDIR, Skip, Supervisor, config,  # noqa: E402
                     connect, request, rss_kib, run_tests, spawn, wait_for,
                     write)

HEAD = config("supervisor")

EXEC_POOL = config("pool_exec", name="ex", workers=2,
                   extra="output = capture\njob_timeout = 500ms")
# The same, for configs with an admin key: its jobs run as mpsup's own
# user, which only a pool marked trusted may do then.
TRUSTED_EXEC_POOL = config("pool_exec", name="ex", workers=2,
                           extra="output = capture\njob_timeout = 500ms\n"
                           "trusted = yes")

# A stream worker on the shipped helper: doubles its data, fails on "boom".
HELPER_WORKER = r'''
import sys
sys.path.insert(0, %r)
import mpsup_worker

def handle(data):
    if data == "boom":
        raise ValueError("boom requested")
    return data * 2

mpsup_worker.run(handle)
''' % os.path.join(SRCDIR, "worker")

# The same with the standard library only, if the helper is not there.
INLINE_WORKER = r'''
import json, os, sys
out = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
for line in sys.stdin:
    job = json.loads(line)
    if job["data"] == "boom":
        out.write(json.dumps({"id": job["id"], "ok": False, "error": "boom requested"}) + "\n")
    else:
        out.write(json.dumps({"id": job["id"], "ok": True, "result": job["data"] * 2}) + "\n")
    out.flush()
'''


def stream_pool(tmp, name="st", extra=""):
    helper = os.path.join(SRCDIR, "worker", "mpsup_worker.py")
    write(os.path.join(tmp, "w.py"),
          HELPER_WORKER if os.path.exists(helper) else INLINE_WORKER)
    return config("pool_python", name=name, workers=2,
                  extra="prefetch = 8\n" + extra)


def mpsup(*args, input=None, env=None, timeout=60, cwd=None):
    """Run the CLI; return (exit status, stdout, stderr) as text."""
    p = subprocess.run([MPSUP] + list(args), input=input, env=env, cwd=cwd,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def start(tmp, pools, head=HEAD):
    """A supervisor for pools, once its listener is up."""
    sup = Supervisor(tmp, head + pools)
    sock = os.path.join(tmp, "mpsup.sock")
    wait_for(lambda: os.path.exists(sock), what="listener socket")
    wait_for(lambda: mpsup("status", "-c", sup.config)[0] == 0,
             what="status to answer")
    return sup


def records(out):
    return [json.loads(l) for l in out.splitlines()]


def status_doc(sup):
    rc, out, err = mpsup("status", "-c", sup.config, "--json")
    assert rc == 0, (rc, err)
    return json.loads(out)


def pool_status(sup, name):
    return [p for p in status_doc(sup)["pools"] if p["name"] == name][0]


# keygen, usage and connection errors need no supervisor.

def test_keygen_writes_a_private_hex_key_and_never_overwrites(tmp):
    path = os.path.join(tmp, "key")
    rc, out, err = mpsup("keygen", path)
    assert rc == 0 and out == "" and err == "", (rc, out, err)
    st = os.stat(path)
    assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    with open(path) as f:
        key = f.read()
    assert len(key) == 65 and key.endswith("\n"), repr(key)
    int(key[:64], 16)
    assert key[:64] == key[:64].lower()

    rc, out, err = mpsup("keygen", path)
    assert rc == 1 and "already exists" in err, (rc, err)
    with open(path) as f:
        assert f.read() == key

    rc1, k1, _ = mpsup("keygen")
    rc2, k2, _ = mpsup("keygen")
    assert rc1 == rc2 == 0
    for k in (k1, k2):
        assert len(k) == 65 and k.endswith("\n")
        int(k[:64], 16)
    assert len({k1, k2, key}) == 3

    rc, out, err = mpsup("keygen", os.path.join(tmp, "no", "such", "dir"))
    assert rc == 1 and err.startswith("mpsup: "), (rc, err)


def test_keygen_ignores_the_umask(tmp):
    path = os.path.join(tmp, "key")
    p = subprocess.run(["sh", "-c", 'umask 0; exec "$0" keygen "$1"', MPSUP, path])
    assert p.returncode == 0
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_help_of_every_subcommand_exits_0(tmp):
    for sub in ("submit", "result", "status", "ctl", "keygen"):
        rc, out, err = mpsup(sub, "--help")
        assert rc == 0, (sub, rc, err)
        assert out.startswith("usage: mpsup " + sub), (sub, out)
    rc, out, err = mpsup("--help")
    assert rc == 0
    for sub in ("submit", "result", "status", "ctl", "keygen"):
        assert "mpsup " + sub in out, (sub, out)


def test_bad_usage_exits_2_with_a_usage_line(tmp):
    key = os.path.join(tmp, "key")
    assert mpsup("keygen", key)[0] == 0
    conn = ["-a", "unix:" + os.path.join(tmp, "none.sock"), "-k", key]
    cases = [
        ["submit"],                                     # no pool, no job
        ["submit"] + conn + ["-p", "ex"],               # no job
        ["submit"] + conn + ["--", "true"],             # no pool
        ["submit"] + conn + ["-p", "ex", "-d", "1", "--", "true"],
        ["submit"] + conn + ["-p", "ex", "--stdin", "-d", "1"],
        ["submit"] + conn + ["-p", "ex", "-t", "5", "--", "true"],   # -t without -w
        ["submit"] + conn + ["-p", "ex", "-w", "-t", "soon", "--", "true"],
        ["submit"] + conn + ["-p", "ex", "-d", "{not json"],
        ["submit"] + conn + ["-p", "ex", "-d", "@" + os.path.join(tmp, "missing")],
        ["submit", "--bogus"],
        ["result"] + conn,
        ["result"] + conn + ["a", "b"],
        ["result"] + conn + ["-t", "3", "J"],
        ["status"] + conn + ["one", "two"],             # one POOL at most
        ["status"] + conn + [""],
        ["ctl"] + conn,
        ["ctl"] + conn + ["explode"],
        ["ctl"] + conn + ["scale", "ex"],
        ["ctl"] + conn + ["scale", "ex", "many"],
        ["ctl"] + conn + ["scale", "ex", "-1"],
        ["ctl"] + conn + ["pause"],
        ["ctl"] + conn + ["stop", "now"],
        ["ctl"] + conn + ["cancel"],
        ["ctl"] + conn + ["restart"],
        ["ctl"] + conn + ["down", "a", "b"],
        ["ctl"] + conn + ["up"],
        ["ctl"] + conn + ["signal", "ex"],
        ["ctl"] + conn + ["signal", "ex", "SEGV"],
        ["ctl"] + conn + ["signal", "ex", "65"],
        ["jobs"] + conn + ["extra"],
        ["jobs"] + conn + ["--state", "broken"],
        ["jobs"] + conn + ["--state", "failed,"],
        ["jobs"] + conn + ["--since", "soon"],
        ["jobs"] + conn + ["-n", "0"],
        ["jobs"] + conn + ["-n", "10001"],
        ["logs"] + conn + ["extra"],
        ["logs"] + conn + ["-n", "-1"],
        ["logs"] + conn + ["-n", "4097"],
        ["logs"] + conn + ["--job", ""],
        ["keygen", "a", "b"],
        ["keygen", "-x"],
    ]
    for args in cases:
        rc, out, err = mpsup(*args)
        assert rc == 2, (args, rc, out, err)
        assert out == "", (args, out)
        assert "usage: mpsup" in err or err.startswith("mpsup: "), (args, err)
        assert "cannot connect" not in err, (args, err)
    rc, out, err = mpsup("submit", "-p", "ex")
    assert err.count("usage:") == 1 and err.rstrip("\n").splitlines()[-1].startswith(
        "usage: mpsup submit"), err


def test_invalid_data_file_is_refused_before_connecting(tmp):
    write(os.path.join(tmp, "bad.json"), '{"a": [1, 2}\n')
    write(os.path.join(tmp, "key"), "k" * 32 + "\n")
    os.chmod(os.path.join(tmp, "key"), 0o600)
    rc, out, err = mpsup("submit", "-a", "unix:/nonexistent/x.sock", "-k",
                         os.path.join(tmp, "key"), "-p", "st", "-w",
                         "-d", "@" + os.path.join(tmp, "bad.json"))
    assert rc == 2 and "not valid JSON" in err, (rc, err)


def test_no_address_is_a_usage_error(tmp):
    env = dict(os.environ)
    env.pop("MPSUP_ADDRESS", None)
    env.pop("MPSUP_AUTHKEY_FILE", None)
    rc, out, err = mpsup("status", env=env, cwd=tmp)
    assert rc == 2 and "no address" in err, (rc, err)


def test_cannot_connect_exits_3_and_submit_wait_125(tmp):
    key = os.path.join(tmp, "key")
    assert mpsup("keygen", key)[0] == 0
    sock = os.path.join(tmp, "nobody.sock")
    conn = ["-a", "unix:" + sock, "-k", key]
    for args in (["status"], ["result", "J"], ["ctl", "stop"], ["ctl", "cancel", "J"],
                 ["submit", "-p", "ex", "--", "true"],
                 ["submit", "-p", "ex", "--stdin"]):
        rc, out, err = mpsup(*(args[:1] + conn + args[1:]), input=b"true\n")
        assert rc == 3, (args, rc, err)
        assert "mpsup: cannot connect to unix:%s" % sock in err, (args, err)
    rc, out, err = mpsup("submit", *conn, "-p", "ex", "-w", "--", "true")
    assert rc == 125 and "cannot connect" in err, (rc, err)
    # A TCP port where nobody listens.
    rc, out, err = mpsup("status", "-a", "127.0.0.1:1", "-k", key)
    assert rc == 3 and "cannot connect to 127.0.0.1:1" in err, (rc, err)
    # A key file that cannot be read also means no session.
    rc, out, err = mpsup("status", "-a", "unix:" + sock, "-k", key + ".missing")
    assert rc == 3 and "authkey" in err, (rc, err)


def test_group_readable_key_is_refused(tmp):
    key = os.path.join(tmp, "key")
    assert mpsup("keygen", key)[0] == 0
    os.chmod(key, 0o640)
    rc, out, err = mpsup("status", "-a", "unix:" + os.path.join(tmp, "x.sock"), "-k", key)
    assert rc == 3 and "chmod 600" in err, (rc, err)


# Against a running supervisor.

def test_wrong_key_exits_3(tmp):
    sup = start(tmp, EXEC_POOL)
    other = os.path.join(tmp, "other.key")
    assert mpsup("keygen", other)[0] == 0
    conn = ["-a", "unix:" + os.path.join(tmp, "mpsup.sock"), "-k", other]
    rc, out, err = mpsup("status", *conn)
    assert rc == 3 and "cannot authenticate" in err, (rc, err)
    rc, out, err = mpsup("submit", *conn, "-p", "ex", "--", "true")
    assert rc == 3, (rc, err)
    rc, out, err = mpsup("submit", *conn, "-p", "ex", "-w", "--", "true")
    assert rc == 125, (rc, err)
    # The right key through the same options works.
    rc, out, err = mpsup("status", "-a", "unix:" + os.path.join(tmp, "mpsup.sock"),
                         "-k", os.path.join(tmp, "authkey"))
    assert rc == 0, (rc, err)
    assert sup.stop() == 0


def test_submit_wait_exits_like_docker_run(tmp):
    sup = start(tmp, EXEC_POOL)
    write(os.path.join(tmp, "noexec.sh"), "#!/bin/sh\necho hi\n")
    os.chmod(os.path.join(tmp, "noexec.sh"), 0o644)
    cases = [
        (["true"], 0, "done"),
        (["false"], 1, "failed"),
        (["sh", "-c", "echo out; echo err >&2; exit 7"], 7, "failed"),
        (["sh", "-c", "kill -9 $$"], 128 + 9, "failed"),
        (["sh", "-c", "kill -TERM $$"], 128 + 15, "failed"),
        (["/nonexistent/program"], 127, "failed"),
        (["./noexec.sh"], 126, "failed"),
        (["sleep", "10"], 124, "timed_out"),
    ]
    for argv, want, state in cases:
        rc, out, err = mpsup("submit", "-c", sup.config, "-p", "ex", "-w", "--", *argv)
        assert rc == want, (argv, rc, want, out, err)
        recs = records(out)
        assert len(recs) == 1, out
        rec = recs[0]
        assert rec["state"] == state and rec["pool"] == "ex", (argv, rec)
        if argv[0] == "sh" and "exit 7" in argv[2]:
            assert rec["exit_code"] == 7 and rec["stdout"] == "out\n" and rec["stderr"] == "err\n", rec
    # Arguments reach the program as given, with no shell in between.
    rc, out, err = mpsup("submit", "-c", sup.config, "-p", "ex", "-w", "--",
                         "printf", "%s|", "a b", "$HOME", "-c", "ü")
    assert rc == 0, (rc, err)
    assert records(out)[0]["stdout"] == "a b|$HOME|-c|ü|", out
    assert sup.stop() == 0


def test_submit_prints_the_id_and_result_fetches_the_record(tmp):
    sup = start(tmp, EXEC_POOL)
    rc, out, err = mpsup("submit", "-c", sup.config, "-p", "ex", "--",
                         "sh", "-c", "sleep 0.3; echo later")
    assert rc == 0, (rc, err)
    jid = out.strip()
    assert len(out.splitlines()) == 1 and jid, out
    rc, out, err = mpsup("result", "-c", sup.config, "-w", "-t", "10", jid)
    assert rc == 0, (rc, err)
    rec = records(out)[0]
    assert rec["id"] == jid and rec["state"] == "done" and rec["stdout"] == "later\n", rec
    # Without -w: the record as it is now, also for a finished job.
    rc, out, err = mpsup("result", "-c", sup.config, jid)
    assert rc == 0 and records(out)[0]["id"] == jid, (rc, out, err)
    # A failed job is still found: result reports, it does not judge.
    rc, out, err = mpsup("submit", "-c", sup.config, "-p", "ex", "-w", "--", "false")
    assert rc == 1
    fid = records(out)[0]["id"]
    rc, out, err = mpsup("result", "-c", sup.config, fid)
    assert rc == 0 and records(out)[0]["state"] == "failed", (rc, out)
    # Unknown ids.
    rc, out, err = mpsup("result", "-c", sup.config, "0000000000000000")
    assert rc == 1 and out == "" and "mpsup: not_found: " in err, (rc, out, err)
    assert sup.stop() == 0


def test_wait_timeouts(tmp):
    sup = start(tmp, config("pool_exec", name="slow", workers=1))
    rc, out, err = mpsup("submit", "-c", sup.config, "-p", "slow", "-w", "-t", "0.3",
                         "--", "sleep", "3")
    assert rc == 124 and "timeout" in err, (rc, out, err)
    rc, out, err = mpsup("submit", "-c", sup.config, "-p", "slow", "--", "sleep", "3")
    jid = out.strip()
    t0 = time.monotonic()
    rc, out, err = mpsup("result", "-c", sup.config, "-w", "-t", "300ms", jid)
    assert rc == 1 and "mpsup: timeout: " in err, (rc, out, err)
    assert time.monotonic() - t0 < 2.5
    assert sup.stop() == 0


def test_unknown_pool_exits_125_with_wait_and_1_without(tmp):
    sup = start(tmp, EXEC_POOL + stream_pool(tmp))
    c = ["-c", sup.config]
    rc, out, err = mpsup("submit", *c, "-p", "nope", "-w", "--", "true")
    assert rc == 125 and "unknown_pool" in err and out == "", (rc, out, err)
    rc, out, err = mpsup("submit", *c, "-p", "nope", "--", "true")
    assert rc == 1 and "unknown_pool" in err and out == "", (rc, out, err)
    rc, out, err = mpsup("submit", *c, "-p", "nope", "-d", "1")
    assert rc == 1 and "unknown_pool" in err, (rc, err)
    rc, out, err = mpsup("submit", *c, "-p", "nope", "--stdin", input=b"1\n")
    assert rc == 1 and "unknown_pool" in err and out == "", (rc, out, err)
    rc, out, err = mpsup("submit", *c, "-p", "nope", "--stdin", "-w", input=b"1\n")
    assert rc == 1 and "unknown_pool" in err and out == "", (rc, out, err)
    assert sup.stop() == 0


def test_queue_full_is_refused(tmp):
    sup = start(tmp, config("pool_exec", name="tiny", workers=1,
                            extra="max_queue = 1"))
    c = ["-c", sup.config]
    assert mpsup("submit", *c, "-p", "tiny", "--", "sleep", "5")[0] == 0
    wait_for(lambda: pool_status(sup, "tiny")["workers_busy"] == 1, what="job running")
    assert mpsup("submit", *c, "-p", "tiny", "--", "true")[0] == 0
    rc, out, err = mpsup("submit", *c, "-p", "tiny", "--", "true")
    assert rc == 1 and "queue_full" in err, (rc, err)
    rc, out, err = mpsup("submit", *c, "-p", "tiny", "-w", "--", "true")
    assert rc == 125 and "queue_full" in err, (rc, err)
    rc, out, err = mpsup("submit", *c, "-p", "tiny", "--stdin", input=b"true\ntrue\n")
    assert rc == 1 and "queue_full" in err and out == "", (rc, out, err)
    sup.signal(signal.SIGKILL)


def test_stream_submit_with_data(tmp):
    sup = start(tmp, stream_pool(tmp))
    c = ["-c", sup.config]
    rc, out, err = mpsup("submit", *c, "-p", "st", "-w", "-d", "21")
    assert rc == 0, (rc, err)
    rec = records(out)[0]
    assert rec["state"] == "done" and rec["result"] == 42, rec
    write(os.path.join(tmp, "data.json"), '  "ab"\n')
    rc, out, err = mpsup("submit", *c, "-p", "st", "-w", "-d", "@data.json", cwd=tmp)
    assert rc == 0 and records(out)[0]["result"] == "abab", (rc, out, err)
    rc, out, err = mpsup("submit", *c, "-p", "st", "-w", "-d", "@-", input=b"[1, 2]")
    assert rc == 0 and records(out)[0]["result"] == [1, 2, 1, 2], (rc, out, err)
    # Values survive the trip exactly, as the worker wrote them.
    rc, out, err = mpsup("submit", *c, "-p", "st", "-w", "-d", "0.1")
    assert rc == 0 and '"result":0.2,' in out, out
    rc, out, err = mpsup("submit", *c, "-p", "st", "-w", "-d", "12345678901234567890")
    assert rc == 0 and '"result":24691357802469135780,' in out, (rc, out, err)
    rc, out, err = mpsup("submit", *c, "-p", "st", "-w", "--stdin",
                         input=b'98765432109876543210\n"\\u00e9\\n"\n')
    assert rc == 0, (rc, out, err)
    assert [r["result"] for r in records(out)] == [2 * 98765432109876543210, "\u00e9\n\u00e9\n"], out
    # The worker's own failure: exit 1, the record says why.
    rc, out, err = mpsup("submit", *c, "-p", "st", "-w", "-d", '"boom"')
    assert rc == 1, (rc, out, err)
    rec = records(out)[0]
    assert rec["state"] == "failed" and "boom requested" in rec["error"], rec
    # Without -w: the id, and the record later.
    rc, out, err = mpsup("submit", *c, "-p", "st", "-d", '"q"')
    assert rc == 0, (rc, err)
    jid = out.strip()
    rc, out, err = mpsup("submit", *c, "-p", "st", "-d", "{oops")
    assert rc == 2 and "not valid JSON" in err, (rc, err)
    rc, out, err = mpsup("result", *c, "-w", jid)
    assert rc == 0 and records(out)[0]["result"] == "qq", (rc, out)
    assert sup.stop() == 0


def test_stdin_streams_20000_jobs_in_order(tmp):
    sup = start(tmp, stream_pool(tmp, extra="max_queue = 50000"))
    n = 20000
    data = b"".join(b"%d\n" % i for i in range(n))
    rc, out, err = mpsup("submit", "-c", sup.config, "-p", "st", "--stdin", "-w",
                         input=data, timeout=120)
    assert rc == 0, (rc, err[-2000:])
    assert err == "", err[-2000:]
    recs = records(out)
    assert len(recs) == n, len(recs)
    assert [r["result"] for r in recs] == [2 * i for i in range(n)]
    assert all(r["state"] == "done" for r in recs)
    ids = [r["id"] for r in recs]
    assert len(set(ids)) == n
    assert ids == sorted(ids)   # ids sort by submission: input order

    # Without -w: one id per line, in input order.
    rc, out, err = mpsup("submit", "-c", sup.config, "-p", "st", "--stdin",
                         input=data, timeout=120)
    assert rc == 0, (rc, err[-2000:])
    ids = out.split()
    assert len(ids) == n and len(set(ids)) == n and ids == sorted(ids)
    for i in (0, 1, 999, 1000, 1001, n - 1):
        rc, out, err = mpsup("result", "-c", sup.config, "-w", "-t", "30", ids[i])
        assert rc == 0 and records(out)[0]["result"] == 2 * i, (i, rc, out, err)
    assert sup.stop() == 0


def test_stdin_reports_bad_lines_and_submits_the_rest(tmp):
    sup = start(tmp, stream_pool(tmp))
    data = b'1\n{"broken": \n\n"x"\nnot json\n3'   # blank line, no final newline
    rc, out, err = mpsup("submit", "-c", sup.config, "-p", "st", "--stdin", "-w",
                         input=data)
    assert rc == 2, (rc, out, err)
    assert "line 2" in err and "line 5" in err, err
    assert "line 4" not in err and "line 3" not in err, err
    assert [r["result"] for r in records(out)] == [2, "xx", 6], out
    # A failed job makes --stdin -w exit 1, after printing every record.
    rc, out, err = mpsup("submit", "-c", sup.config, "-p", "st", "--stdin", "-w",
                         input=b'1\n"boom"\n2\n')
    assert rc == 1, (rc, out, err)
    assert [r["state"] for r in records(out)] == ["done", "failed", "done"], out
    assert sup.stop() == 0


def test_stdin_runs_shell_lines_on_an_exec_pool(tmp):
    sup = start(tmp, EXEC_POOL)
    lines = b"echo one\nprintf '%s' \"two words\"\n\necho $((6 * 7))\r\n"
    rc, out, err = mpsup("submit", "-c", sup.config, "-p", "ex", "--stdin", "-w",
                         input=lines)
    assert rc == 0, (rc, out, err)
    assert [r["stdout"] for r in records(out)] == ["one\n", "two words", "42\n"], out
    rc, out, err = mpsup("submit", "-c", sup.config, "-p", "ex", "--stdin", "-w",
                         input=b"true\nexit 3\ntrue\n")
    assert rc == 1, (rc, out, err)
    assert [r["exit_code"] for r in records(out)] == [0, 3, 0], out
    # Without -w, ids only.
    rc, out, err = mpsup("submit", "-c", sup.config, "-p", "ex", "--stdin",
                         input=b"true\ntrue\n")
    assert rc == 0 and len(out.split()) == 2, (rc, out, err)
    assert sup.stop() == 0


def test_stdin_sends_a_slow_producers_lines_without_waiting_for_more(tmp):
    sup = start(tmp, stream_pool(tmp))
    p = spawn([MPSUP, "submit", "-c", sup.config, "-p", "st", "--stdin", "-w"],
              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for i in (5, 6):
        p.stdin.write(b"%d\n" % i)
        p.stdin.flush()
        line = p.stdout.readline()      # arrives while stdin is still open
        assert json.loads(line)["result"] == 2 * i, line
    p.stdin.close()
    assert p.wait(10) == 0
    assert sup.stop() == 0


def test_stdin_memory_stays_flat(tmp):
    sup = start(tmp, stream_pool(tmp, extra="max_queue = 2000000"))
    assert mpsup("ctl", "-c", sup.config, "pause", "st")[0] == 0
    outpath = os.path.join(tmp, "ids.txt")
    # Under AddressSanitizer freed memory sits in quarantine: turn that off.
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"),
                                                  "quarantine_size_mb=0"]))
    with open(outpath, "wb") as outf:
        p = spawn([MPSUP, "submit", "-c", sup.config, "-p", "st", "--stdin"],
                  stdin=subprocess.PIPE, stdout=outf, env=env)

    def feed(start, count):
        chunk = 50000
        for base in range(start, start + count, chunk):
            p.stdin.write(b"".join(b"%d\n" % i for i in range(base, base + chunk)))
        p.stdin.flush()

    def ids_written():
        with open(outpath, "rb") as f:
            return f.read().count(b"\n")

    feed(0, 100000)
    wait_for(lambda: ids_written() == 100000, timeout=30, what="100000 ids")
    before = rss_kib(p.pid, "VmHWM")
    feed(100000, 900000)
    wait_for(lambda: ids_written() == 1000000, timeout=60, what="1000000 ids")
    after = rss_kib(p.pid, "VmHWM")
    p.stdin.close()
    assert p.wait(30) == 0
    # 900000 more ids would be 15 MB if they were kept.
    assert after - before < 4096, (before, after)
    assert pool_status(sup, "st")["queue_depth"] == 1000000
    sup.signal(signal.SIGKILL)


def test_status_table_and_json(tmp):
    sup = start(tmp, EXEC_POOL + stream_pool(tmp))
    assert mpsup("submit", "-c", sup.config, "-p", "ex", "-w", "--", "true")[0] == 0
    assert mpsup("submit", "-c", sup.config, "-p", "ex", "-w", "--", "false")[0] == 1
    rc, out, err = mpsup("status", "-c", sup.config)
    assert rc == 0, (rc, err)
    rows = [l.split() for l in out.splitlines()]
    assert rows[0] == ["POOL", "TYPE", "STATE", "WORKERS", "QUEUE", "DONE",
                       "FAILED", "TIMED_OUT", "P99_MS"], rows
    by_name = {r[0]: r for r in rows[1:]}
    assert set(by_name) == {"ex", "st"}, rows
    ex = by_name["ex"]
    assert ex[1] == "exec" and ex[2] == "running", ex
    assert ex[3].endswith("/2") and ex[4] == "0" and ex[5] == "1" and ex[6] == "1", ex
    assert by_name["st"][1] == "stream"
    doc = status_doc(sup)
    assert doc["mpsup"]["pid"] == sup.pid
    assert [p["name"] for p in doc["pools"]] == ["ex", "st"]
    assert len(out.splitlines()) == 3
    assert sup.stop() == 0


def test_ctl_pause_resume_and_cancel(tmp):
    sup = start(tmp, EXEC_POOL)
    c = ["-c", sup.config]
    rc, out, err = mpsup("ctl", *c, "pause", "ex")
    assert rc == 0 and out.strip(), (rc, out, err)
    rc, out, err = mpsup("submit", *c, "-p", "ex", "--", "true")
    jid = out.strip()
    time.sleep(0.3)
    rc, out, err = mpsup("result", *c, jid)
    assert records(out)[0]["state"] == "queued", out
    rc, out, err = mpsup("status", *c)
    assert "paused" in out, out
    rc, out, err = mpsup("ctl", *c, "resume", "ex")
    assert rc == 0, (rc, err)
    rc, out, err = mpsup("result", *c, "-w", "-t", "10", jid)
    assert rc == 0 and records(out)[0]["state"] == "done", out

    rc, out, err = mpsup("submit", *c, "-p", "ex", "--", "sleep", "0.45")
    jid = out.strip()
    wait_for(lambda: records(mpsup("result", *c, jid)[1])[0]["state"] == "running",
             what="job running")
    rc, out, err = mpsup("ctl", *c, "cancel", jid)
    assert rc == 0, (rc, err)
    rc, out, err = mpsup("result", *c, "-w", jid)
    assert records(out)[0]["state"] == "cancelled", out
    rc, out, err = mpsup("ctl", *c, "cancel", "0000000000000000")
    assert rc == 1 and out == "" and "mpsup: not_found: " in err, (rc, out, err)
    rc, out, err = mpsup("ctl", *c, "pause", "nope")
    assert rc == 1 and "mpsup: unknown_pool: " in err, (rc, err)
    assert sup.stop() == 0


def test_ctl_scale_changes_the_worker_count(tmp):
    sup = start(tmp, EXEC_POOL)
    rc, out, err = mpsup("ctl", "-c", sup.config, "scale", "ex", "3")
    assert rc == 0, (rc, out, err)
    wait_for(lambda: pool_status(sup, "ex")["workers_target"] == 3
             and pool_status(sup, "ex")["workers_idle"] == 3, what="3 workers")
    rc, out, err = mpsup("ctl", "-c", sup.config, "scale", "nope", "3")
    assert rc == 1 and "unknown_pool" in err, (rc, err)
    assert sup.stop() == 0


def test_ctl_reload_picks_up_a_new_pool(tmp):
    sup = start(tmp, EXEC_POOL)
    with open(sup.config, "a") as f:
        f.write("\n[pool:extra]\ntype = exec\nworkers = 1\n")
    rc, out, err = mpsup("ctl", "-c", sup.config, "reload")
    assert rc == 0, (rc, out, err)
    wait_for(lambda: "extra" in [p["name"] for p in status_doc(sup)["pools"]],
             what="the new pool")
    assert mpsup("submit", "-c", sup.config, "-p", "extra", "-w", "--", "true")[0] == 0
    assert sup.stop() == 0


def test_ctl_uses_the_admin_key_when_configured(tmp):
    head = HEAD + "admin_authkey_file = admin.key\n"
    assert mpsup("keygen", os.path.join(tmp, "admin.key"))[0] == 0
    sup = start(tmp, TRUSTED_EXEC_POOL, head=head)
    sock = "unix:" + os.path.join(tmp, "mpsup.sock")
    plain = ["-a", sock, "-k", os.path.join(tmp, "authkey")]
    rc, out, err = mpsup("ctl", *plain, "pause", "ex")
    assert rc == 1 and "mpsup: forbidden: " in err, (rc, out, err)
    rc, out, err = mpsup("ctl", *plain, "stop")
    assert rc == 1 and "forbidden" in err, (rc, err)
    # -c picks the admin key for control commands, the plain one for the rest.
    rc, out, err = mpsup("ctl", "-c", sup.config, "pause", "ex")
    assert rc == 0, (rc, err)
    assert mpsup("ctl", "-c", sup.config, "resume", "ex")[0] == 0
    rc, out, err = mpsup("submit", "-c", sup.config, "-p", "ex", "--", "true")
    assert rc == 0, (rc, err)
    rc, out, err = mpsup("ctl", "-c", sup.config, "cancel", out.strip())
    assert rc in (0, 1) and "forbidden" not in err, (rc, err)
    # An admin key file that cannot be read: fall back to the plain key.
    os.chmod(os.path.join(tmp, "admin.key"), 0)
    if os.geteuid() != 0:
        rc, out, err = mpsup("ctl", "-c", sup.config, "pause", "ex")
        assert rc == 1 and "forbidden" in err, (rc, err)
    os.chmod(os.path.join(tmp, "admin.key"), 0o600)
    rc, out, err = mpsup("ctl", "-c", sup.config, "stop")
    assert rc == 0, (rc, err)
    assert sup.wait() == 0


def test_ctl_stop_makes_the_supervisor_exit_0(tmp):
    sup = start(tmp, EXEC_POOL)
    rc, out, err = mpsup("ctl", "-c", sup.config, "stop")
    assert rc == 0 and out.strip(), (rc, out, err)
    assert sup.wait() == 0


def test_connection_from_environment_and_default_config(tmp):
    sup = start(tmp, EXEC_POOL)
    env = dict(os.environ)
    env["MPSUP_ADDRESS"] = "unix:" + os.path.join(tmp, "mpsup.sock")
    env["MPSUP_AUTHKEY_FILE"] = os.path.join(tmp, "authkey")
    elsewhere = os.path.join(tmp, "elsewhere")
    os.mkdir(elsewhere)
    rc, out, err = mpsup("submit", "-p", "ex", "-w", "--", "true", env=env, cwd=elsewhere)
    assert rc == 0, (rc, err)
    # -a/-k win over the environment.
    env["MPSUP_ADDRESS"] = "unix:/nonexistent/mpsup.sock"
    rc, out, err = mpsup("status", env=env, cwd=elsewhere)
    assert rc == 3, (rc, err)
    rc, out, err = mpsup("status", "-a", "unix:" + os.path.join(tmp, "mpsup.sock"),
                         env=env, cwd=elsewhere)
    assert rc == 0, (rc, err)
    # Nothing given: ./pool.ini.
    env.pop("MPSUP_ADDRESS")
    env.pop("MPSUP_AUTHKEY_FILE")
    rc, out, err = mpsup("status", env=env, cwd=tmp)
    assert rc == 0 and out.startswith("POOL"), (rc, out, err)
    assert sup.stop() == 0


def test_exec_jobs_cannot_read_the_admin_key(tmp):
    # A submit-key client runs `cat admin.key` as an exec job, reads the
    # admin key and takes over. With two roles, an exec pool running as
    # mpsup's own user is refused (check and start); with user = nobody
    # the job cannot read the key and the admin op stays forbidden.
    if os.geteuid() != 0:
        raise Skip("needs root to run a pool as nobody")
    head = config("supervisor", legacy_md5="yes") + \
        "admin_authkey_file = admin.key\n"
    assert mpsup("keygen", os.path.join(tmp, "admin.key"))[0] == 0
    same_user = write(os.path.join(tmp, "same.ini"), head + EXEC_POOL)
    rc, out, err = mpsup("check", "-c", same_user)
    assert rc == 1 and len(out.splitlines()) == 1 and \
        "pool 'ex': its exec jobs would run as mpsup's own user" in out and \
        "trusted = yes" in out, (rc, out, err)
    r = subprocess.run([MPSUP, "-c", same_user], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 2 and "its exec jobs would run as" in r.stderr, r
    os.chmod(tmp, 0o755)
    sup = start(tmp, config("pool_exec", name="ex", workers=1,
                            extra="output = capture\nuser = nobody"), head=head)
    c = connect(tmp)
    r = request(c, {"op": "submit", "pool": "ex", "shell": "cat admin.key",
                    "cwd": tmp, "wait": True, "timeout": 10})
    job = r["job"]
    admin_key = open(os.path.join(tmp, "admin.key")).read().strip()
    assert job["state"] == "failed" and admin_key not in (job["stdout"] or ""), job
    assert "Permission denied" in (job["stderr"] or ""), job
    assert request(c, {"op": "stop"})["error"] == "forbidden"
    c.close()
    assert sup.stop() == 0


def test_admin_key_equal_to_the_submit_key_is_refused(tmp):
    # The same key in both files would make the admin role mean nothing:
    # check names both files at the key's line, start refuses with exit 2.
    assert mpsup("keygen", os.path.join(tmp, "authkey"))[0] == 0
    with open(os.path.join(tmp, "authkey"), "rb") as f:
        key = f.read()
    admin = os.path.join(tmp, "admin.key")
    fd = os.open(admin, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, key.strip() + b"  \n")   # trailing space: still the same key
    os.close(fd)
    text = HEAD + "admin_authkey_file = admin.key\n" + TRUSTED_EXEC_POOL
    path = write(os.path.join(tmp, "same.ini"), text)
    line = text.splitlines().index("admin_authkey_file = admin.key") + 1
    want = "%s:%d: admin_authkey_file: %s holds the same key as " \
        "authkey_file %s" % (path, line, admin, os.path.join(tmp, "authkey"))
    rc, out, err = mpsup("check", "-c", path)
    assert rc == 1 and want in out and " ok " not in out, (rc, out, err)
    p = subprocess.run([MPSUP, "-c", path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    err = p.stderr.decode("utf-8", "replace")
    assert p.returncode == 2 and want in err, (p.returncode, err)
    assert not os.path.exists(os.path.join(tmp, "mpsup.sock"))
    # A key of its own is fine.
    os.unlink(admin)
    assert mpsup("keygen", admin)[0] == 0
    rc, out, err = mpsup("check", "-c", path)
    assert rc == 0 and "ok" in out, (rc, out, err)


def test_config_with_errors_exits_2(tmp):
    path = write(os.path.join(tmp, "bad.ini"), "[supervisor]\nbogus = 1\n")
    rc, out, err = mpsup("status", "-c", path)
    assert rc == 2 and "bad.ini:2" in err, (rc, err)
    rc, out, err = mpsup("submit", "-c", path, "-p", "x", "-w", "--", "true")
    assert rc == 2, (rc, err)


if __name__ == "__main__":
    run_tests(globals(), timeout=120)
