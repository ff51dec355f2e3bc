"""Private files: what mpsup creates is 0600 unless a *_mode key says
otherwise, whatever the umask; nothing is opened through a symlink; key
files must belong to mpsup's user or root."""
import os
import pwd
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (MPSUP, Supervisor, config, connect, request,  # noqa: E402
                     run_tests, wait_for, write)

POOL = config("pool_exec", name="sh", workers=1)


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def start(tmp, extra, args=()):
    """A supervisor started under umask 0, so only mpsup sets the modes."""
    old = os.umask(0)
    try:
        return Supervisor(tmp, config("supervisor", extra=extra, legacy_md5="yes")
                          + POOL,
                          extra_args=list(args))
    finally:
        os.umask(old)


def submit_one(tmp):
    conn = connect(tmp)
    try:
        reply = request(conn, {"op": "submit", "pool": "sh",
                               "args": ["true"], "wait": True})
        assert reply["job"]["state"] == "done", reply
    finally:
        conn.close()


def wait_started(sup, tmp):
    wait_for(lambda: os.path.exists(os.path.join(tmp, "mpsup.sock")),
             what="socket")


def test_log_pidfile_store_wal_shm_are_0600_under_umask_0(tmp):
    sup = start(tmp, "log = out.log\nstore = sqlite:jobs.db",
                ["--pidfile", os.path.join(tmp, "mpsup.pid")])
    wait_started(sup, tmp)
    submit_one(tmp)
    for name in ("out.log", "mpsup.pid", "jobs.db", "jobs.db-wal",
                 "jobs.db-shm", "jobs.db.lock"):
        path = os.path.join(tmp, name)
        wait_for(lambda: os.path.exists(path), what=name)
        assert mode(path) == 0o600, "%s is %o" % (name, mode(path))
    assert sup.stop() == 0


def test_log_mode_and_store_mode_are_honoured(tmp):
    sup = start(tmp, "log = out.log\nlog_mode = 0640\n"
                "store = sqlite:jobs.db\nstore_mode = 0660")
    wait_started(sup, tmp)
    submit_one(tmp)
    assert mode(os.path.join(tmp, "out.log")) == 0o640
    for name in ("jobs.db", "jobs.db-wal", "jobs.db-shm"):
        assert mode(os.path.join(tmp, name)) == 0o660, name
    assert sup.stop() == 0


def test_existing_log_keeps_the_operators_mode(tmp):
    path = write(os.path.join(tmp, "out.log"), "")
    os.chmod(path, 0o640)
    sup = start(tmp, "log = out.log")
    wait_started(sup, tmp)
    assert mode(path) == 0o640
    assert sup.stop() == 0


def refused(tmp, extra, args, victim):
    """Start with a symlink at one path: exit 2 naming it, target untouched."""
    target = write(os.path.join(tmp, "target"), "keep\n")
    os.chmod(target, 0o644)
    sup = start(tmp, extra, args)
    assert sup.wait() == 2
    with open(sup.stderr_path) as f:
        err = f.read()
    assert victim in err and "symbolic link" in err, err
    with open(target) as f:
        assert f.read() == "keep\n"
    assert mode(target) == 0o644


def test_symlinked_log_is_refused(tmp):
    link = os.path.join(tmp, "out.log")
    os.symlink("target", link)
    refused(tmp, "log = out.log", (), link)


def test_symlinked_pidfile_is_refused(tmp):
    link = os.path.join(tmp, "mpsup.pid")
    os.symlink("target", link)
    refused(tmp, "", ["--pidfile", link], link)


def test_symlinked_store_is_refused(tmp):
    link = os.path.join(tmp, "jobs.db")
    os.symlink("target", link)
    refused(tmp, "store = sqlite:jobs.db", (), link)


def foreign_key(tmp, name):
    if os.geteuid() != 0:
        raise harness.Skip("needs root to give a file to another user")
    try:
        nobody = pwd.getpwnam("nobody").pw_uid
    except KeyError:
        raise harness.Skip("no user nobody")
    path = write(os.path.join(tmp, name), "k" * 64 + "\n")
    os.chmod(path, 0o600)
    os.chown(path, nobody, -1)
    return path


def test_key_file_of_another_user_is_refused_at_start(tmp):
    path = foreign_key(tmp, "authkey")
    sup = start(tmp, "")
    assert sup.wait() == 2
    with open(sup.stderr_path) as f:
        err = f.read()
    assert path in err and "owned by" in err, err


def test_check_reports_a_key_file_of_another_user(tmp):
    path = foreign_key(tmp, "admin.key")
    cfg = write(os.path.join(tmp, "pool.ini"),
                config("supervisor", extra="admin_authkey_file = admin.key")
                + config("pool_exec", name="sh", workers=1,
                         extra="trusted = yes"))
    r = subprocess.run([MPSUP, "check", "-c", cfg], capture_output=True,
                       text=True, cwd=tmp)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert path in r.stdout and "owned by" in r.stdout, r.stdout


def test_check_reports_a_group_readable_key_file(tmp):
    path = write(os.path.join(tmp, "authkey"), "k" * 64 + "\n")
    os.chmod(path, 0o640)
    cfg = write(os.path.join(tmp, "pool.ini"), config("supervisor") + POOL)
    r = subprocess.run([MPSUP, "check", "-c", cfg], capture_output=True,
                       text=True, cwd=tmp)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert path in r.stdout and "readable by group" in r.stdout, r.stdout


run_tests(globals())
