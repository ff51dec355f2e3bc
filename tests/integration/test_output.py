"""Output serialization: whole, untangled, bounded records."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Supervisor, config, rss_kib, run_tests,  # noqa: E402
                     wait_for, write)

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


if __name__ == "__main__":
    run_tests(globals(), timeout=120)
