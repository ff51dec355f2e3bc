"""The progress line of `mpsup submit --stdin -w`: drawn on a terminal
(a pseudo-terminal here), never on a pipe unless asked, forced on or off by
--progress/--no-progress, and ended by a summary line that stays."""
import os
import pty
import re
import select
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (MPSUP, Supervisor, config, run_tests,  # noqa: E402
                     spawn, wait_for)

HEAD = config("supervisor", legacy_md5="yes")
EXEC_POOL = config("pool_exec", name="ex", workers=2)


def start(tmp):
    sup = Supervisor(tmp, HEAD + EXEC_POOL)
    wait_for(lambda: subprocess.run([MPSUP, "status", "-c", sup.config],
                                    stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL).returncode == 0,
             what="status to answer")
    return sup


def submit(sup, lines, *opts, tty=True, pace=0.0):
    """Run submit --stdin -w with stderr on a pty (or a pipe); feed lines.

    Returns (exit status, stdout text, stderr bytes as the terminal got them).
    """
    argv = [MPSUP, "submit", "-c", sup.config, "-p", "ex", "--stdin", "-w"] + list(opts)
    if tty:
        master, slave = pty.openpty()
        p = spawn(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        err_fd = master
    else:
        p = spawn(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                  stderr=subprocess.PIPE)
        err_fd = p.stderr.fileno()
    out_fd = p.stdout.fileno()
    err, out = b"", b""
    for i, line in enumerate(lines):
        p.stdin.write(line.encode() + b"\n")
        if pace:
            p.stdin.flush()
            time.sleep(pace)
    p.stdin.close()
    end = time.monotonic() + 60
    open_fds = {err_fd, out_fd}
    while open_fds and time.monotonic() < end:
        ready, _, _ = select.select(list(open_fds), [], [], 1)
        for fd in ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:         # EIO: the pty's other end is closed
                chunk = b""
            if not chunk:
                open_fds.discard(fd)
            elif fd == err_fd:
                err += chunk
            else:
                out += chunk
    rc = p.wait(10)
    if tty:
        os.close(master)
    return rc, out.decode(), err


LINE = re.compile(rb"mpsup: (\d+) done, (\d+) failed, (\d+) (total|submitted so far), "
                  rb"[0-9.]+ jobs/s(, ETA \w+| in \w+)?")


def test_progress_line_on_a_terminal_ends_with_a_summary(tmp):
    sup = start(tmp)
    jobs = ["sleep 0.01"] * 298 + ["exit 1", "exit 2"]
    rc, out, err = submit(sup, jobs)
    assert rc == 1, (rc, err)
    assert len(out.splitlines()) == 300, out[-300:]
    # Redrawn in place: carriage returns and erase-to-end-of-line, one newline.
    assert err.count(b"\r") >= 3 and b"\x1b[K" in err, err
    assert err.endswith(b"\n") and err.count(b"\n") == 1, err[-300:]
    drawn = [m.groups() for m in LINE.finditer(err)]
    assert len(drawn) >= 3, err
    # Counts only grow; the last line is the summary with the elapsed time.
    done = [int(d[0]) for d in drawn]
    assert done == sorted(done), done
    # Batches of two jobs per worker: the count moves in small steps.
    assert len(set(done)) >= 10, sorted(set(done))
    last = drawn[-1]
    assert last[:4] == (b"298", b"2", b"300", b"total"), last
    assert last[4].startswith(b" in "), last
    # Once the input ended and a rate was known, the time left was shown.
    assert any(d[4] and d[4].startswith(b", ETA ") for d in drawn), drawn
    assert sup.stop() == 0


def test_total_counts_what_was_submitted_while_input_goes_on(tmp):
    sup = start(tmp)
    rc, out, err = submit(sup, ["true"] * 5, pace=0.3)
    assert rc == 0, (rc, err)
    assert b"submitted so far" in err, err
    assert LINE.findall(err)[-1][3] == b"total", err
    assert sup.stop() == 0


def test_no_progress_on_a_pipe_unless_asked(tmp):
    sup = start(tmp)
    rc, out, err = submit(sup, ["true"] * 3, tty=False)
    assert rc == 0 and err == b"", (rc, err)
    assert len(out.splitlines()) == 3
    rc, out, err = submit(sup, ["true"] * 3, "--progress", tty=False)
    assert rc == 0 and LINE.findall(err)[-1][:4] == (b"3", b"0", b"3", b"total"), err
    assert err.endswith(b"\n"), err
    rc, out, err = submit(sup, ["true"] * 3, "--no-progress")
    assert rc == 0 and err == b"", (rc, err)
    assert sup.stop() == 0


def test_progress_options_need_stdin(tmp):
    p = subprocess.run([MPSUP, "submit", "-a", "unix:/nonexistent", "-k", "/nonexistent",
                        "-p", "ex", "--progress", "--", "true"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode == 2 and b"go with --stdin" in p.stderr, p.stderr


if __name__ == "__main__":
    run_tests(globals())
