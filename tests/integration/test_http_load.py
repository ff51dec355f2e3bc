"""libmicrohttpd is loaded when the status endpoint starts, not at every
exec: a supervisor without `status`, and the command line client, run
without it (and without the nine libraries it brings); a supervisor with
`status` maps it; one that cannot load it fails at start, naming it."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUILDDIR, MPSUP, Supervisor, config,  # noqa: E402
                     connect, request, run_tests, spawn, wait_for, write)
from test_http import free_port, healthy  # noqa: E402

POOLS = config("pool_exec", name="sh", workers=1)


def soname():
    """The file the binary loads, as configure found it (config.h)."""
    with open(os.path.join(BUILDDIR, "config.h")) as f:
        m = re.search(r'^#define MHD_SONAME "([^"]+)"$', f.read(), re.M)
    assert m, "config.h names no MHD_SONAME"
    return m.group(1)


def mapped(pid):
    """The file names of the shared objects mapped in pid."""
    with open("/proc/%d/maps" % pid) as f:
        return {os.path.basename(line.split()[5]) for line in f
                if len(line.split()) > 5}


def broken_lib(tmp):
    """A folder where soname() is not a library; LD_LIBRARY_PATH to it."""
    d = os.path.join(tmp, "lib")
    os.mkdir(d)
    write(os.path.join(d, soname()), "not a shared object\n")
    return "LD_LIBRARY_PATH=" + d


def has(names, prefix):
    return any(n.startswith(prefix) for n in names)


def test_only_a_supervisor_with_status_maps_the_http_library(tmp):
    sup = Supervisor(tmp, config("supervisor", legacy_md5="yes") + POOLS)
    c = connect(tmp)
    assert request(c, {"op": "status"})["ok"]
    names = mapped(sup.pid)
    assert has(names, "libjansson"), names     # the maps were read
    assert not has(names, "libmicrohttpd"), names
    assert not has(names, "libgnutls"), names
    c.close()
    assert sup.stop() == 0

    port = free_port()
    sup = Supervisor(tmp, config("supervisor", legacy_md5="yes",
                                 status="127.0.0.1:%d" % port) + POOLS)
    wait_for(lambda: healthy(port), what="the HTTP endpoint")
    names = mapped(sup.pid)
    assert has(names, "libmicrohttpd"), names
    assert sup.stop() == 0


def test_a_library_that_cannot_load_fails_startup_naming_it(tmp):
    env = broken_lib(tmp)
    port = free_port()
    sup = Supervisor(tmp, config("supervisor", legacy_md5="yes",
                                 status="127.0.0.1:%d" % port) + POOLS,
                     prefix=("env", env))
    assert sup.wait() == 2
    with open(sup.stderr_path) as f:
        err = f.read()
    assert err.startswith("mpsup: status: cannot load %s " % soname()), err
    assert "for the status endpoint" in err and "lib/" + soname() in err, err
    assert not os.path.exists(os.path.join(tmp, "mpsup.sock"))


def test_without_status_neither_the_supervisor_nor_the_client_loads_it(tmp):
    env = broken_lib(tmp)
    sup = Supervisor(tmp, config("supervisor", legacy_md5="yes") + POOLS,
                     prefix=("env", env))
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
