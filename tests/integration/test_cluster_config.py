"""The cluster keys through the real binary: `mpsup check` names the
cluster (never a password) and every mistake at its FILE:LINE, start and
check read cluster_password_file by the key files' rules, and a reload
keeps the running cluster keys, saying a restart is needed."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (MPSUP, Supervisor, config, run_tests, wait_for,  # noqa: E402
                     write)

HEAD = config("supervisor")
POOL = "[pool:a]\ntype = exec\nworkers = 1\n"
SECRET = "s3cret-not-for-logs"


def mpsup(*args, timeout=30):
    """Run the CLI; (exit status, stdout, stderr) as text."""
    p = subprocess.run([MPSUP] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                       timeout=timeout)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def ini(tmp, keys, name="pool.ini"):
    """A config of HEAD + keys + one pool; (path, first line of keys)."""
    text = HEAD + keys + POOL
    return write(os.path.join(tmp, name), text), HEAD.count("\n") + 1


def start(path):
    """Run the supervisor on path until it exits; (status, stderr)."""
    p = subprocess.run([MPSUP, "-c", path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                       timeout=30)
    return p.returncode, p.stderr.decode("utf-8", "replace")


def password_file(tmp, text, mode=0o600, name="redis.pw"):
    path = os.path.join(tmp, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.write(fd, text.encode())
    os.close(fd)
    os.chmod(path, mode)
    return path


def test_check_names_the_cluster_and_the_node(tmp):
    cases = [
        ("cluster = redis://127.0.0.1\nnode = n1\n",
         "cluster redis://127.0.0.1:6379/0, node n1, lease 30s)"),
        ("cluster = redis://[::1]:7000/3\nnode = n-2\ncluster_lease = 5s\n",
         "cluster redis://[::1]:7000/3, node n-2, lease 5s)"),
        ("cluster = unix:redis/redis.sock?db=2\nnode = a.b\n",
         "cluster unix:%s/redis/redis.sock?db=2, node a.b, lease 30s)"
         % os.path.realpath(tmp)),
    ]
    for keys, want in cases:
        path, _ = ini(tmp, keys)
        rc, out, err = mpsup("check", "-c", path)
        assert rc == 0 and out == "%s: ok (1 pool; %s\n" % (path, want), \
            (keys, rc, out, err)
    # One machine: no cluster in the line.
    path, _ = ini(tmp, "")
    rc, out, err = mpsup("check", "-c", path)
    assert rc == 0 and out == "%s: ok (1 pool)\n" % path, (rc, out, err)


def test_check_reports_each_mistake_at_its_line(tmp):
    cases = [
        ("cluster = http://h\n", 0, "cluster: 'http://h': expected "
         "redis://HOST[:PORT][/DB] or unix:PATH[?db=N]"),
        ("cluster = redis://h:70000\n", 0, "the port must be a number from "
         "1 to 65535"),
        ("cluster = redis://h/16\n", 0, "the database must be a number from "
         "0 to 15"),
        ("cluster = redis://::1\n", 0, "IPv6 addresses need brackets"),
        ("cluster = unix:\n", 0, "unix: needs the path"),
        ("cluster = redis://h\nnode = bad name\n", 1, "node: 'bad name': use "
         "1 to 64 letters"),
        ("cluster = redis://h\nnode = n\ncluster_lease = 1s\n", 2,
         "cluster_lease: must be from 2s to 1h"),
        ("store = memory\ncluster = redis://h\nnode = n\n", 0,
         "store: not with cluster (line %d)"),
        ("node = n\n", 0, "node: only with cluster"),
        ("cluster_lease = 30s\n", 0, "cluster_lease: only with cluster"),
        ("cluster_password_file = pw\n", 0, "cluster_password_file: only with "
         "cluster"),
    ]
    for keys, offset, want in cases:
        path, first = ini(tmp, keys)
        if "%d" in want:
            want = want % (first + 1)
        rc, out, err = mpsup("check", "-c", path)
        line = "%s:%d: " % (path, first + offset)
        assert rc == 1 and any(l.startswith(line) and want in l
                               for l in out.splitlines()), \
            (keys, line, want, rc, out, err)
        # The supervisor refuses the same file, with the same words.
        rc, err = start(path)
        assert rc == 2 and line in err and want in err, (keys, rc, err)


def test_a_password_in_the_url_is_refused_and_not_repeated(tmp):
    for url in ("redis://:%s@127.0.0.1:6379/0" % SECRET,
                "redis://default:%s@h" % SECRET,
                "redis://h?password=%s" % SECRET):
        path, first = ini(tmp, "cluster = %s\nnode = n\n" % url)
        rc, out, err = mpsup("check", "-c", path)
        assert rc == 1 and "%s:%d: cluster: " % (path, first) in out, \
            (rc, out, err)
        assert "cluster_password_file" in out, out
        assert SECRET not in out + err, (out, err)
        rc, err = start(path)
        assert rc == 2 and "cluster_password_file" in err, (rc, err)
        assert SECRET not in err, err


def test_the_password_file_follows_the_key_file_rules(tmp):
    keys = "cluster = redis://127.0.0.1:1/0\nnode = n\n" \
        "cluster_password_file = redis.pw\n"
    path, _ = ini(tmp, keys)
    pw = os.path.join(tmp, "redis.pw")
    bad = [
        (None, "cluster_password_file: %s: No such file or directory" % pw),
        (0o640, "cluster_password_file: %s: authkey file is readable by "
         "group or others (chmod 600)" % pw),
        (0o620, "writable by group or others (chmod 600)"),
    ]
    for mode, want in bad:
        if mode is not None:
            password_file(tmp, SECRET + "\n", mode)
        rc, out, err = mpsup("check", "-c", path)
        assert rc == 1 and want in out, (mode, rc, out, err)
        rc, err = start(path)
        assert rc == 2 and want in err, (mode, rc, err)
        assert SECRET not in out + err
    password_file(tmp, "short\n")
    rc, out, err = mpsup("check", "-c", path)
    assert rc == 1 and "too short (5 bytes, at least 16 needed)" in out, out
    # A good one: check is happy and says AUTH is on, not what it is.
    password_file(tmp, SECRET + "\n")
    rc, out, err = mpsup("check", "-c", path)
    assert rc == 0 and out.endswith("lease 30s, with AUTH)\n"), (rc, out)
    assert SECRET not in out + err


def test_a_reload_keeps_the_running_cluster_keys(tmp):
    sup = Supervisor(tmp, HEAD + POOL)
    sup.wait_log("starting")
    wait_for(lambda: os.path.exists(os.path.join(tmp, "mpsup.sock")),
             what="the listener")
    write(sup.config, HEAD + "cluster = redis://h\n"
          "node = n1\ncluster_lease = 10s\n" + POOL)
    rc, out, err = mpsup("ctl", "-c", sup.config, "reload")
    assert rc == 0, (rc, out, err)
    assert "restart mpsup to apply [supervisor] cluster node " \
        "cluster_lease" in out, out
    sup.wait_log("reload: [supervisor] cluster node cluster_lease changed; "
                 "restart mpsup to apply")
    # Still one machine: the pool serves as before.
    rc, out, err = mpsup("submit", "-c", sup.config, "-p", "a", "-w", "--",
                         "true")
    assert rc == 0, (rc, out, err)
    # A second reload with the same file names them again: the running
    # values were kept, not replaced by the first reload's.
    rc, out, err = mpsup("ctl", "-c", sup.config, "reload")
    assert rc == 0 and "cluster node cluster_lease" in out, (rc, out, err)
    assert sup.stop() == 0


if __name__ == "__main__":
    run_tests(globals(), timeout=120)
