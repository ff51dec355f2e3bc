"""Output serialization: whole, untangled, bounded records."""
import json
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (MPSUP, Supervisor, config, connect,  # noqa: E402
                     request, rss_kib, run_tests, spawn, wait_for,
                     worker_pids, write)

LINE_WRITER = r'''
import os, sys
w = int(os.environ["MPSUP_WORKER"])
n, size = int(sys.argv[1]), int(sys.argv[2])
out = os.fdopen(1, "wb", buffering=0)
for i in range(n):
    head = b"w%d-l%04d:" % (w, i)
    body = (b"%c" % (97 + (w + i) % 26)) * (size - len(head))
    out.write(head + body + b"\n")
sys.stderr.write("done %d\n" % w)
sys.stderr.flush()
os.execvp("sleep", ["sleep", "1000"])
'''


def test_8_workers_500_lines_of_64k_stay_whole(tmp):
    write(os.path.join(tmp, "writer.py"), LINE_WRITER)
    size = 64 * 1024
    cfg = config("supervisor", extra="log = out.log") + """
[pool:flood]
type = stream
job_fds = 3,4
workers = 8
command = %s writer.py 500 %d
""" % (sys.executable, size)
    sup = Supervisor(tmp, cfg)
    path = os.path.join(tmp, "out.log")

    def done():
        if not os.path.exists(path):
            return False
        with open(path, "rb") as f:
            data = f.read()
        return data.count(b" err: done ") == 8 and data

    data = wait_for(done, timeout=90, interval=0.2, what="8 writers done")
    assert sup.stop() == 0
    with open(path, "rb") as f:
        data = f.read()
    records = [r for r in data.split(b"\n") if b"] out: " in r]
    assert len(records) == 4000, len(records)
    seen = set()
    for r in records:
        prefix, line = r.split(b" out: ", 1)
        assert len(line) == size, (prefix, len(line))
        head, body = line.split(b":", 1)
        w, i = head[1:].split(b"-l")
        w, i = int(w), int(i)
        assert prefix.split(b" ")[1].startswith(b"flood.%d[" % w), prefix
        assert body == (b"%c" % (97 + (w + i) % 26)) * len(body), (w, i)
        seen.add((w, i))
    assert len(seen) == 4000
    # Each worker's lines arrive in the order it wrote them.
    for w in range(8):
        order = [int(r.split(b"-l")[1][:4]) for r in records if b" out: w%d-" % w in r]
        assert order == list(range(500))


def test_final_line_without_newline_is_flushed_and_marked(tmp):
    cfg = config("supervisor", extra="log_format = json") + config(
        "pool_shell", name="p", workers=1,
        extra="restart_delay = 5s\nrestart_delay_max = 5s",
        command='printf "whole\\npartial"; sleep 0.2; exit 0')
    sup = Supervisor(tmp, cfg)
    sup.wait_log('"partial"')
    assert sup.stop() == 0
    recs = [json.loads(l) for l in sup.lines()]
    lines = [r for r in recs if r.get("pool") == "p"]
    assert lines[0]["line"] == "whole" and "noeol" not in lines[0]
    assert lines[1]["line"] == "partial" and lines[1]["noeol"] is True


def test_huge_line_is_split_and_memory_stays_bounded(tmp):
    total = 100 * 1000 * 1000
    cfg = config("supervisor", extra="log = out.log\nlog_max_line = 1M") + config(
        "pool_shell", name="big", workers=1,
        command='head -c %d /dev/zero | tr "\\0" x; echo; echo end >&2; '
                'exec sleep 1000' % total)
    sup = Supervisor(tmp, cfg)
    path = os.path.join(tmp, "out.log")
    wait_for(lambda: os.path.exists(path) and os.path.getsize(path) > total,
             timeout=60, interval=0.2, what="100 MB written")

    def finished():
        with open(path, "rb") as f:
            return b" err: end" in f.read()
    wait_for(finished,
             timeout=60, interval=0.2, what="100 MB written")
    peak = rss_kib(sup.pid, "VmHWM")
    assert sup.stop() == 0
    pieces = 0
    got = 0
    with open(path, "rb") as f:
        for rec in f:
            if b"] out" not in rec:
                continue
            tag, line = rec.rstrip(b"\n").split(b": ", 1)
            assert set(line) <= {ord("x")}, line[:50]
            assert len(line) <= 1 << 20
            got += len(line)
            pieces += 1
            if len(line) == 1 << 20:
                assert tag.endswith(b" cont"), tag
            else:
                assert not tag.endswith(b" cont"), tag
    assert got == total, got
    assert pieces == total // (1 << 20) + 1
    # Bounded by log_max_line and the output buffer, far below 100 MB.
    assert peak < 40 * 1024, "supervisor peak RSS %d KiB" % peak


def test_many_workers_share_one_log_without_tearing(tmp):
    cfg = config("supervisor", extra="log = out.log\nlog_format = json") + config(
        "pool_shell", name="many", workers=100,
        command='i=0; while [ $i -lt 20 ]; do echo "$MPSUP_WORKER line $i '
                '$(printf %5000s | tr " " y)"; i=$((i+1)); done; '
                'echo done >&2; exec sleep 1000')
    sup = Supervisor(tmp, cfg)
    path = os.path.join(tmp, "out.log")
    wait_for(lambda: os.path.exists(path) and open(path).read().count('"line":"done"') == 100,
             timeout=60, interval=0.2, what="100 workers done")
    assert sup.stop() == 0
    counts = {}
    with open(path) as f:
        for rec in f:
            r = json.loads(rec)
            if r.get("pool") == "many" and r["stream"] == "out":
                w, _, i, pad = r["line"].split(" ")
                assert int(w) == r["worker"] and pad == "y" * 5000
                counts[r["worker"]] = counts.get(r["worker"], 0) + 1
    assert counts == {w: 20 for w in range(100)}


def writers(tmp, workers, n, size):
    """A pool, chatty, of LINE_WRITER workers (n lines of size each)."""
    write(os.path.join(tmp, "writer.py"), LINE_WRITER)
    return "[pool:chatty]\ntype = stream\njob_fds = 3,4\nworkers = %d\n" \
        "command = %s writer.py %d %d\n" % (workers, sys.executable, n, size)


def start_on_pipe(tmp, cfg):
    """mpsup with its log on stdout, a pipe the test reads when it wants."""
    import subprocess
    path = write(os.path.join(tmp, "pool.ini"), cfg)
    r, w = os.pipe()
    with open(os.path.join(tmp, "stderr.txt"), "ab") as err:
        proc = spawn([MPSUP, "-c", path], stdout=w, stderr=err,
                     stdin=subprocess.DEVNULL, cwd=tmp)
    os.close(w)
    return proc, r


def drain(fd, into):
    """Read fd to its end into the bytearray into (on a thread)."""
    import threading

    def run():
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                break
            into.extend(b)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_a_log_nobody_reads_holds_up_no_client_and_loses_nothing(tmp):
    # Two workers write 96 MB of lines to a log nobody reads for a while:
    # mpsup stops reading them (they block) and goes on serving clients;
    # once the log is read again every line arrives, whole and in order.
    n, size = 48000, 1000
    cfg = config("supervisor", legacy_md5="yes") + config(
        "pool_echo", name="echo", workers=1, work_us=0, extra="") + \
        writers(tmp, 2, n, size)
    proc, r = start_on_pipe(tmp, cfg)
    c = connect(tmp)
    # The pipe (64 KiB) and the writer's allowance (1 MiB) are full by now.
    wait_for(lambda: rss_kib(proc.pid) > 0, what="mpsup up")
    import time
    time.sleep(1.0)
    for i in range(20):
        c.send_bytes(json.dumps({"op": "submit", "pool": "echo", "data": i,
                                 "wait": True}).encode())
        assert c.poll(10), "no answer in 10 s while the log is not read"
        rep = json.loads(c.recv_bytes())
        assert rep["job"]["result"] == i, rep
    st = request(c, {"op": "status"})["status"]
    assert {p["name"] for p in st["pools"]} == {"echo", "chatty"}, st
    data = bytearray()
    t = drain(r, data)
    wait_for(lambda: data.count(b" err: done ") == 2, timeout=120,
             interval=0.2, what="both chatty workers done")
    c.close()
    os.kill(proc.pid, 15)
    assert proc.wait(30) == 0
    t.join(30)
    os.close(r)
    text = bytes(data)
    assert b"dropped" not in text, text[-2000:]
    for w in range(2):
        lines = [l.split(b" out: ", 1)[1] for l in text.split(b"\n")
                 if b" chatty.%d[" % w in l and b" out: " in l]
        assert len(lines) == n, (w, len(lines))
        for i, line in enumerate(lines):
            head = b"w%d-l%04d:" % (w, i)
            body = (b"%c" % (97 + (w + i) % 26)) * (size - len(head))
            assert line == head + body, (w, i, line[:40])


def test_a_stop_does_not_wait_forever_on_a_log_nobody_reads(tmp):
    cfg = config("supervisor", legacy_md5="yes") + writers(tmp, 2, 100000,
                                                           1000)
    proc, r = start_on_pipe(tmp, cfg)
    connect(tmp).close()
    import time
    time.sleep(1.0)
    os.kill(proc.pid, 15)
    # What the log still holds is given up after 5 s (README, "The log").
    assert proc.wait(20) == 0
    os.close(r)


TALKER = r'''
import json, sys
for line in sys.stdin:
    job = json.loads(line)
    sys.stderr.write("t%06d:" % job["data"] + "e" * 30000 + "\n")
    sys.stderr.flush()
    sys.stdout.write(json.dumps({"id": job["id"], "ok": True,
                                 "result": job["data"]}) + "\n")
    sys.stdout.flush()
'''


def test_a_log_that_lags_past_its_bound_drops_records_and_says_how_many(tmp):
    # A worker writes a 30 KB line before each result: read with the
    # result (to tag it with its job), it gets in even while the log
    # lags, up to 64 MiB held; past that lines are dropped and counted.
    write(os.path.join(tmp, "w.py"), TALKER)
    n = 3000
    cfg = config("supervisor", legacy_md5="yes") + config(
        "pool_python", name="talk", workers=1, extra="")
    proc, r = start_on_pipe(tmp, cfg)
    c = connect(tmp)
    rep = request(c, {"op": "submit_many", "pool": "talk",
                      "jobs": [{"data": i} for i in range(n)]})
    assert len(rep["ids"]) == n, rep

    def done():
        st = request(c, {"op": "status"})["status"]
        return st["pools"][0]["jobs"]["done"] == n
    wait_for(done, timeout=120, interval=0.2, what="every job done")
    data = bytearray()
    t = drain(r, data)
    wait_for(lambda: b"records dropped" in data, timeout=30,
             what="the count of dropped records")
    c.close()
    os.kill(proc.pid, 15)
    assert proc.wait(30) == 0
    t.join(30)
    os.close(r)
    text = bytes(data).decode()
    dropped = int(text.split(" records dropped")[0].rsplit(" ", 1)[1])
    kept = [l for l in text.split("\n") if " talk.0[" in l and " err job=" in l]
    assert 0 < len(kept) < n and dropped > 0, (len(kept), dropped)
    # Records of the supervisor's own may be among those dropped.
    assert len(kept) + dropped >= n, (len(kept), dropped)
    assert all(l.endswith(":" + "e" * 30000) for l in kept)


def test_a_log_that_refuses_writes_is_said_on_stderr_and_its_loss_counted(tmp):
    # The log file may not grow past 200 kB (RLIMIT_FSIZE: writes past it
    # fail with EFBIG, as on a full disk with ENOSPC). Once rotated, the
    # new file is told how many bytes the old one refused.
    cfg = config("supervisor", extra="log = out.log") + writers(tmp, 1, 2000,
                                                               1000)
    sup = Supervisor(tmp, cfg, prefix=["prlimit", "--fsize=200000", "--"])
    path = os.path.join(tmp, "out.log")

    def said():
        with open(sup.stderr_path) as f:
            return "mpsup: log: write: File too large; records are lost " \
                "until it takes them again" in f.read()
    wait_for(said, timeout=30, what="the loss said on stderr")
    assert os.path.getsize(path) <= 200000

    # Rotated once the worker wrote all (it then execs sleep), so that the
    # new file, under the same limit, takes the little that is left.
    def all_written():
        pids = worker_pids(sup, "chatty")
        with open("/proc/%d/cmdline" % pids[0], "rb") as f:
            return f.read().startswith(b"sleep")
    wait_for(all_written, timeout=30, what="the worker done")
    os.rename(path, path + ".1")
    sup.signal(signal.SIGUSR1)

    def lost():
        if not os.path.exists(path):
            return None
        with open(path) as f:
            text = f.read()
        return " bytes lost: write: File too large" in text and text
    text = wait_for(lost, timeout=30, what="the count in the new log")
    n = int(text.split(" bytes lost")[0].rsplit(" ", 1)[1])
    assert sup.stop() == 0
    # Each of the 2,000 records is in one file or the other, or among the
    # bytes lost (with the one the limit cut, and a few of mpsup's own).
    whole = []
    for p in (path + ".1", path):
        with open(p, "rb") as f:
            whole += [r for r in f.read().split(b"\n")
                      if b"] out: w0-l" in r]
    size = {len(r) for r in whole if len(r.split(b" out: ", 1)[1]) == 1000}
    assert len(size) == 1, size
    rec = size.pop() + 1
    kept = [r for r in whole if len(r) + 1 == rec]
    assert 0 < n and abs(len(kept) * rec + n - 2000 * rec) < 2 * rec + 4096, \
        (len(kept), n, rec)
    with open(sup.stderr_path) as f:
        assert f.read().count("records are lost") == 1


if __name__ == "__main__":
    run_tests(globals(), timeout=120)
