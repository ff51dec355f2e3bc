"""Integration tests of the worker helpers that ship for stream pools.

They run the example workers the way a supervisor does, without one: the
Python helper (worker/mpsup_worker.py via examples/double_worker.py), the C
library (examples/echo_worker), and the jq one-liner documented beside them,
feeding job lines and reading result lines over real pipes.
"""
import json
import os
import select
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import BUILDDIR, SRCDIR, run_tests  # noqa: E402

DOUBLE = os.path.join(SRCDIR, "examples", "double_worker.py")
ECHO = os.path.join(BUILDDIR, "examples", "echo_worker")
JQ_WORKER = ["jq", "-c", "--unbuffered", "{id, ok: true, result: (.data * 2)}"]


def worker_env(mode):
    env = dict(os.environ)
    env["MPSUP_JOB_FDS"] = mode
    env["MPSUP_POOL"] = "test"
    env["MPSUP_WORKER"] = "0"
    env["PYTHONPATH"] = os.path.join(SRCDIR, "worker")
    env["PYTHONUNBUFFERED"] = ""
    return env


class LineReader:
    """Read whole lines from a pipe with a deadline."""

    def __init__(self, fd):
        self.fd = fd
        self.buf = b""

    def line(self, timeout=15.0):
        end = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("no line within %.1fs (have %r)"
                                     % (timeout, self.buf[:200]))
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                chunk = os.read(self.fd, 1 << 16)
                if not chunk:
                    raise AssertionError("EOF (have %r)" % self.buf[:200])
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def rest(self, timeout=15.0):
        """Everything up to EOF."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("no EOF within %.1fs" % timeout)
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                chunk = os.read(self.fd, 1 << 16)
                if not chunk:
                    out, self.buf = self.buf, b""
                    return out
                self.buf += chunk


def start_stdio(argv, tmp, env_mode="stdio"):
    """Start a stdio-mode worker: (proc, results reader, stderr path)."""
    err_path = os.path.join(tmp, "stderr")
    with open(err_path, "wb") as err:
        p = harness.spawn(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=err, env=worker_env(env_mode))
    return p, LineReader(p.stdout.fileno()), err_path


def send(p, *lines):
    p.stdin.write(b"".join((ln if isinstance(ln, bytes) else ln.encode())
                           + b"\n" for ln in lines))
    p.stdin.flush()


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def test_python_helper_answers_jobs_and_keeps_print_out_of_the_channel(tmp):
    p, out, err_path = start_stdio([sys.executable, DOUBLE], tmp)
    send(p, '{"id":"a","data":21}')
    assert json.loads(out.line()) == {"id": "a", "ok": True, "result": 42}
    send(p, '{"id":"b","data":"ab","timeout_ms":5000}',
         '{"id":"c","data":[1,{"k":"\\u00e9"}],"attempt":2}')
    assert json.loads(out.line()) == {"id": "b", "ok": True, "result": "abab"}
    assert json.loads(out.line()) == {"id": "c", "ok": True,
                                      "result": [1, {"k": "é"}, 1, {"k": "é"}]}
    p.stdin.close()
    assert out.rest() == b"", "something but results reached the channel"
    assert p.wait(10) == 0
    log = read_file(err_path).decode()
    # print() in the handler went to stderr (the log), line by line.
    assert "doubling 21\n" in log and "doubling 'ab'\n" in log, log


def test_python_helper_turns_exceptions_and_bad_lines_into_failures(tmp):
    p, out, err_path = start_stdio([sys.executable, DOUBLE], tmp)
    send(p, '{"id":"n","data":null}', 'not json', '{"id":"m"}',
         '{"id":"x","data":{"a":1}}', '["list"]', '{"id":"ok","data":1}')
    got = [json.loads(out.line()) for _ in range(4)]
    assert got[0] == {"id": "n", "ok": False,
                      "error": "TypeError: cannot double NoneType"}, got[0]
    assert got[1] == {"id": "m", "ok": False, "error": "job has no data"}, got[1]
    assert got[2]["id"] == "x" and got[2]["ok"] is False, got[2]
    assert got[3] == {"id": "ok", "ok": True, "result": 2}, got[3]
    p.stdin.close()
    assert out.rest() == b""
    assert p.wait(10) == 0
    log = read_file(err_path).decode()
    assert "Traceback" in log and "malformed job line" in log, log


def test_python_helper_handles_a_prefetched_batch(tmp):
    p, out, _ = start_stdio([sys.executable, DOUBLE], tmp)
    send(p, *['{"id":"p%d","data":%d}' % (i, i) for i in range(300)])
    got = {}
    for _ in range(300):
        r = json.loads(out.line())
        got[r["id"]] = r["result"]
    assert got == {"p%d" % i: 2 * i for i in range(300)}
    p.stdin.close()
    assert p.wait(10) == 0


def test_python_helper_answers_a_slow_job_before_the_batch_ends(tmp):
    script = harness.write(os.path.join(tmp, "slow.py"), (
        "import time, mpsup_worker\n"
        "def handle(data):\n"
        "    time.sleep(data)\n"
        "    return data\n"
        "mpsup_worker.run(handle)\n"))
    p, out, _ = start_stdio([sys.executable, script], tmp)
    start = time.monotonic()
    send(p, '{"id":"quick","data":0.05}', '{"id":"slow","data":3}')
    assert json.loads(out.line())["id"] == "quick"
    assert time.monotonic() - start < 2.5, "quick waited for slow"
    assert json.loads(out.line())["id"] == "slow"
    p.stdin.close()
    assert p.wait(10) == 0


def test_python_helper_with_job_fds_3_4(tmp):
    jobs_r, jobs_w = os.pipe()
    res_r, res_w = os.pipe()

    def move_fds():
        a = os.dup(jobs_r)
        b = os.dup(res_w)
        os.dup2(a, 13)
        os.dup2(b, 14)
        os.dup2(13, 3)
        os.dup2(14, 4)
        os.close(13)
        os.close(14)

    p = harness.spawn([sys.executable, DOUBLE], stdin=subprocess.DEVNULL,
                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                      env=worker_env("3,4"), preexec_fn=move_fds,
                      close_fds=False)
    os.close(jobs_r)
    os.close(res_w)
    os.write(jobs_w, b'{"id":"f","data":2.5}\n')
    results = LineReader(res_r)
    assert json.loads(results.line()) == {"id": "f", "ok": True, "result": 5.0}
    os.close(jobs_w)
    assert results.rest() == b""
    # Here stdout is the log, and print() output arrives there.
    assert p.stdout.read() == b"doubling 2.5\n"
    assert p.wait(10) == 0
    os.close(res_r)


def test_c_echo_worker_round_trips_many_jobs(tmp):
    p, out, err_path = start_stdio([ECHO], tmp)
    n = 20000
    payload = b"".join(b'{"id":"e%d","data":{"n":%d,"s":"a\\"b\\\\c"},'
                       b'"timeout_ms":1}\n' % (i, i) for i in range(n))
    start = time.monotonic()

    def feed():
        p.stdin.write(payload)
        p.stdin.close()
    # Write from a thread: the results must be read while jobs go in.
    writer = threading.Thread(target=feed)
    writer.start()
    for i in range(n):
        line = out.line()
        want = b'{"id":"e%d","ok":true,"result":{"n":%d,"s":"a\\"b\\\\c"}}' % (i, i)
        assert line == want, (line, want)
    took = time.monotonic() - start
    writer.join(10)
    assert out.rest() == b""
    assert p.wait(10) == 0
    print("# %d jobs through echo_worker in %.3fs" % (n, took))
    assert read_file(err_path) == b""


def test_c_echo_worker_answers_bad_lines_and_goes_on(tmp):
    p, out, err_path = start_stdio([ECHO], tmp)
    send(p, '{"id":"bad","data":[1,}', 'garbage', '{"id":"good","data":[]}')
    assert json.loads(out.line()) == {"id": "bad", "ok": False,
                                      "error": "job data is not valid JSON"}
    assert json.loads(out.line()) == {"id": "good", "ok": True, "result": []}
    p.stdin.close()
    assert p.wait(10) == 0
    assert b"job line is not a JSON object" in read_file(err_path)


def test_jq_one_liner_speaks_the_protocol(tmp):
    assert shutil.which("jq"), "jq is needed (it is in the CI package list)"
    p, out, _ = start_stdio(JQ_WORKER, tmp)
    send(p, '{"id":"q1","data":21}', '{"id":"q2","data":"ab","timeout_ms":9}')
    assert json.loads(out.line()) == {"id": "q1", "ok": True, "result": 42}
    assert json.loads(out.line()) == {"id": "q2", "ok": True, "result": "abab"}
    p.stdin.close()
    assert p.wait(10) == 0


if __name__ == "__main__":
    run_tests(globals())
