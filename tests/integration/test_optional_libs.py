"""Libraries only some configurations use are opened when used, not at
every exec (common/dynlib.h): libmicrohttpd (and the nine libraries it
brings) when the status endpoint starts, libsqlite3 when a SQLite store
opens. A supervisor without them, and the command line client, run
without them; one that needs one it cannot load fails at start, naming
it, and `mpsup check` says so first."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUILDDIR, MPSUP, Supervisor, config,  # noqa: E402
                     connect, request, run_tests, spawn, wait_for, write)
from test_http import free_port, healthy  # noqa: E402

POOLS = config("pool_exec", name="sh", workers=1)


def soname(what):
    """The file the binary loads for what (MHD, SQLITE), from config.h."""
    with open(os.path.join(BUILDDIR, "config.h")) as f:
        m = re.search(r'^#define %s_SONAME "([^"]+)"$' % what, f.read(),
                      re.M)
    assert m, "config.h names no %s_SONAME" % what
    return m.group(1)


def mapped(pid):
    """The file names of the shared objects mapped in pid."""
    with open("/proc/%d/maps" % pid) as f:
        return {os.path.basename(line.split()[5]) for line in f
                if len(line.split()) > 5}


def has(names, prefix):
    return any(n.startswith(prefix) for n in names)


def broken_libs(tmp):
    """LD_LIBRARY_PATH=a folder where both files are not libraries."""
    d = os.path.join(tmp, "lib")
    os.mkdir(d)
    for what in ("MHD", "SQLITE"):
        write(os.path.join(d, soname(what)), "not a shared object\n")
    return "LD_LIBRARY_PATH=" + d


def head(**keys):
    return config("supervisor", legacy_md5="yes", **keys)


def test_only_a_supervisor_that_uses_them_maps_them(tmp):
    sup = Supervisor(tmp, head() + POOLS)
    c = connect(tmp)
    assert request(c, {"op": "status"})["ok"]
    names = mapped(sup.pid)
    assert has(names, "libjansson"), names     # the maps were read
    for lib in ("libmicrohttpd", "libgnutls", "libsqlite3"):
        assert not has(names, lib), (lib, names)
    c.close()
    assert sup.stop() == 0

    port = free_port()
    sup = Supervisor(tmp, head(status="127.0.0.1:%d" % port,
                               extra="store = sqlite:jobs.db\n") + POOLS)
    wait_for(lambda: healthy(port), what="the HTTP endpoint")
    c = connect(tmp)
    r = request(c, {"op": "submit", "pool": "sh", "args": ["true"],
                    "wait": True, "timeout": 20})
    assert r["ok"] and r["job"]["state"] == "done", r
    names = mapped(sup.pid)
    assert has(names, "libmicrohttpd") and has(names, "libsqlite3"), names
    c.close()
    assert sup.stop() == 0


def start_fails(tmp, env, cfg):
    sup = Supervisor(tmp, cfg, prefix=("env", env))
    assert sup.wait() == 2
    with open(sup.stderr_path) as f:
        return f.read()


def test_a_library_that_cannot_load_fails_startup_naming_it(tmp):
    env = broken_libs(tmp)
    port = free_port()
    err = start_fails(tmp, env, head(status="127.0.0.1:%d" % port) + POOLS)
    lib = soname("MHD")
    assert err.startswith("mpsup: status: cannot load %s " % lib), err
    assert "for the status endpoint" in err and "lib/" + lib in err, err
    assert not os.path.exists(os.path.join(tmp, "mpsup.sock"))

    err = start_fails(tmp, env, head(extra="store = sqlite:jobs.db\n") +
                      POOLS)
    lib = soname("SQLITE")
    assert ("cannot load %s (for store = sqlite): " % lib) in err, err
    assert "lib/" + lib in err, err
    assert not os.path.exists(os.path.join(tmp, "jobs.db")), "a file made"
    assert not os.path.exists(os.path.join(tmp, "mpsup.sock"))


def check(env, tmp, cfg):
    path = write(os.path.join(tmp, "check.ini"), cfg)
    p = spawn(["env", env, MPSUP, "check", "-c", path],
              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate(timeout=30)
    return p.returncode, out.decode(), path


def test_check_opens_the_libraries_start_would(tmp):
    env = broken_libs(tmp)
    rc, out, path = check(env, tmp, head(status="127.0.0.1:7301",
                                         extra="store = sqlite:jobs.db\n")
                          + POOLS)
    assert rc == 1, (rc, out)
    lines = out.splitlines()
    assert lines[0].startswith("%s: status: cannot load %s (for the status "
                               "endpoint): " % (path, soname("MHD"))), out
    assert lines[1].startswith("%s: store: cannot load %s (for store = "
                               "sqlite): " % (path, soname("SQLITE"))), out
    assert len(lines) == 2, out
    assert not os.path.exists(os.path.join(tmp, "jobs.db"))
    rc, out, path = check(env, tmp, head() + POOLS)
    assert (rc, out) == (0, "%s: ok (1 pool)\n" % path), (rc, out)
    rc, out, path = check("LD_LIBRARY_PATH=", tmp, head(
        status="127.0.0.1:7301", extra="store = sqlite:jobs.db\n") + POOLS)
    assert (rc, out) == (0, "%s: ok (1 pool)\n" % path), (rc, out)


def test_without_them_neither_the_supervisor_nor_the_client_loads_them(tmp):
    env = broken_libs(tmp)
    sup = Supervisor(tmp, head() + POOLS, prefix=("env", env))
    c = connect(tmp)
    assert request(c, {"op": "status"})["ok"]
    c.close()
    conn = ["-a", "unix:" + os.path.join(tmp, "mpsup.sock"),
            "-k", os.path.join(tmp, "authkey")]
    p = spawn(["env", env, MPSUP, "submit"] + conn +
              ["-p", "sh", "-w", "--", "echo", "hi"],
              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, (p.returncode, out, err)
    assert b'"state":"done"' in out.replace(b" ", b""), out
    assert sup.stop() == 0


if __name__ == "__main__":
    run_tests(globals())
