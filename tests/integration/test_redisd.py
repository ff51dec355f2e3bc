"""The Redis harness of the cluster tests (redisd.py) does what they rely on:
a private redis-server on a free port and a socket in the test's folder,
a client that decodes every reply type, AUTH, restarts that keep the AOF,
and no redis-server left behind, whatever happens to the test."""
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import pid_alive, run_tests, wait_for  # noqa: E402
from redisd import RedisError, Redisd, encode  # noqa: E402


def tcp_refused(port):
    """True if nothing accepts connections on 127.0.0.1:port."""
    with socket.socket() as s:
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", port))
        except ConnectionRefusedError:
            return True
    return False


def raw_reply(sock, *args):
    sock.sendall(encode(args))
    return sock.recv(4096)


def test_start_answers_on_its_port_and_socket(tmp):
    with Redisd(tmp) as r:
        assert r.cmd("PING") == "PONG"
        assert os.path.dirname(r.dir) == tmp, r.dir
        assert r.url == "redis://127.0.0.1:%d" % r.port, r.url
        assert r.unix_url == "unix:" + os.path.join(r.dir, "redis.sock")
        # Its own config: the port chosen, loopback only, no snapshots,
        # its folder, no AOF unless asked.
        assert r.cmd("CONFIG", "GET", "port") == [b"port", str(r.port).encode()]
        assert r.cmd("CONFIG", "GET", "bind") == [b"bind", b"127.0.0.1"]
        assert r.cmd("CONFIG", "GET", "save") == [b"save", b""]
        assert r.cmd("CONFIG", "GET", "dir") == [b"dir", r.dir.encode()]
        assert r.cmd("CONFIG", "GET", "appendonly") == [b"appendonly", b"no"]
        # Reachable over TCP too, at the url's port.
        with socket.create_connection(("127.0.0.1", r.port), timeout=5) as s:
            assert raw_reply(s, "PING") == b"+PONG\r\n"
        assert r.pid is not None and pid_alive(r.pid)


def test_replies_decode_to_python_values(tmp):
    with Redisd(tmp) as r:
        assert r.cmd("SET", "k", b"\x00bin\r\n") == "OK"
        assert r.cmd("GET", "k") == b"\x00bin\r\n"
        assert r.cmd("GET", "missing") is None
        assert r.cmd("INCRBY", "n", 41) == 41
        assert r.cmd("INCR", "n") == 42
        assert r.cmd("RPUSH", "l", "a", "", "ü") == 3
        assert r.cmd("LRANGE", "l", 0, -1) == [b"a", b"", "ü".encode()]
        assert r.cmd("LRANGE", "none", 0, -1) == []
        assert r.cmd("XADD", "s", "*", "f", "v").count(b"-") == 1
        entries = r.cmd("XRANGE", "s", "-", "+")
        assert entries[0][1] == [b"f", b"v"], entries
        try:
            r.cmd("NOSUCHCOMMAND")
        except RedisError as e:
            assert "unknown command" in str(e), e
        else:
            raise AssertionError("an error reply did not raise")
        # The connection survives an error reply.
        assert r.cmd("PING") == "PONG"
        r.cmd("MULTI")
        r.cmd("INCR", "n")
        r.cmd("LPOP", "k")     # a string: WRONGTYPE inside EXEC
        out = r.cmd("EXEC")
        assert out[0] == 43 and isinstance(out[1], RedisError), out


def test_stop_leaves_no_process(tmp):
    r = Redisd(tmp).start()
    pid, port = r.pid, r.port
    r.stop()
    assert not pid_alive(pid), "redis-server %d still runs" % pid
    assert r.proc is None
    assert tcp_refused(port)
    r.stop()    # twice is harmless
    # The context manager stops it on an exception.
    try:
        with Redisd(tmp) as r2:
            pid = r2.pid
            raise KeyError("a failing test")
    except KeyError:
        pass
    assert not pid_alive(pid), "redis-server %d outlived the with" % pid


def test_restart_keeps_aof_data_on_the_same_port(tmp):
    with Redisd(tmp, appendonly=True) as r:
        port, pid = r.port, r.pid
        assert r.cmd("CONFIG", "GET", "appendonly") == [b"appendonly", b"yes"]
        r.cmd("SET", "acked", "1")
        r.cmd("XADD", "{p}:q", "*", "job", "j1")
        r.restart()
        assert r.pid != pid and not pid_alive(pid)
        assert r.port == port, (r.port, port)
        assert r.cmd("GET", "acked") == b"1"
        assert r.cmd("XLEN", "{p}:q") == 1


def test_restart_without_aof_starts_empty(tmp):
    # The counterpart: without AOF (and with save ""), a restart is a
    # new, empty server, so the test above proves the AOF kept the data.
    with Redisd(tmp) as r:
        r.cmd("SET", "k", "v")
        r.restart()
        assert r.cmd("GET", "k") is None
        assert r.cmd("DBSIZE") == 0


def test_kill9_with_appendfsync_always_loses_nothing(tmp):
    r = Redisd(tmp, appendonly=True, appendfsync="always").start()
    try:
        for i in range(50):
            r.cmd("RPUSH", "l", i)
        pid = r.pid
        r.kill9()
        assert not pid_alive(pid), "redis-server %d not reaped" % pid
        assert r.proc is None
        r.start()
        assert r.cmd("LLEN", "l") == 50
    finally:
        r.stop()


def test_password_is_required_and_sent(tmp):
    with Redisd(tmp, password="s3cret-for-tests") as r:
        assert r.cmd("SET", "k", "v") == "OK"
        with r.connect() as s:
            assert raw_reply(s, "GET", "k").startswith(b"-NOAUTH"), \
                "redis-server does not ask for the password"
            assert raw_reply(s, "AUTH", "wrong").startswith(b"-WRONGPASS")


def test_two_servers_are_apart(tmp):
    with Redisd(tmp) as a, Redisd(tmp) as b:
        assert a.port != b.port and a.dir != b.dir and a.sock != b.sock
        a.cmd("SET", "k", "a")
        assert b.cmd("GET", "k") is None


def test_a_port_taken_meanwhile_is_replaced(tmp):
    import redisd
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    ports = [taken.getsockname()[1]]
    real = redisd.free_port
    redisd.free_port = lambda: ports.pop() if ports else real()
    try:
        with Redisd(tmp) as r:
            assert r.port != taken.getsockname()[1]
            assert r.cmd("PING") == "PONG"
    finally:
        redisd.free_port = real
        taken.close()


def test_a_fixed_port_in_use_fails_clearly(tmp):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        r = Redisd(tmp, port=port)
        try:
            r.start()
        except AssertionError as e:
            assert "port %d" % port in str(e), e
            assert "Address already in use" in str(e), e
        else:
            raise AssertionError("started on a port in use")
        assert r.proc is None


CHILD = textwrap.dedent("""
    import os, signal, sys, time
    sys.path.insert(0, %(dir)r)
    from redisd import Redisd
    r = Redisd(%(tmp)r).start()
    print(r.pid, flush=True)
    sys.stdin.readline()    # the test saw the server run
    if sys.argv[1] == "raise":
        raise RuntimeError("a test failed and never called stop()")
    time.sleep(60)
""")


def test_a_dying_test_process_leaves_no_server(tmp):
    code = CHILD % {"dir": os.path.dirname(os.path.abspath(__file__)),
                    "tmp": tmp}
    # An exception (atexit), and a SIGKILL of the test process itself
    # (the kernel's parent-death signal).
    for how in ("raise", "sigkill"):
        p = harness.spawn([sys.executable, "-c", code, how],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL)
        pid = int(p.stdout.readline())
        assert pid_alive(pid)
        if how == "sigkill":
            os.kill(p.pid, signal.SIGKILL)
        else:
            p.stdin.write(b"go\n")
            p.stdin.flush()
        p.wait(10)
        wait_for(lambda: not pid_alive(pid), timeout=5,
                 what="redis-server %d to go with its test (%s)" % (pid, how))


def test_a_server_started_from_a_helper_thread_outlives_it(tmp):
    """The parent-death signal fires when the thread that forked the
    server ends: a server started, or restarted, from a test's helper
    thread must live on after that thread returns."""
    r = Redisd(tmp)
    try:
        for step in (r.start, r.restart):
            t = threading.Thread(target=step)
            t.start()
            t.join(30)
            time.sleep(0.3)
            assert pid_alive(r.pid), "redis-server died with the thread"
            assert r.cmd("PING") == "PONG"
    finally:
        r.stop()


if __name__ == "__main__":
    run_tests(globals())
