"""What the soak runs share: their command line, a temp folder kept when a
run fails, counters of what happened, and the verdict (an invariant
broken, a sanitizer report in a supervisor's stderr, a bad exit)."""
import argparse
import atexit
import json
import os
import shutil
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402

# Every process a run started (harness.spawn) goes at exit, even on a
# failure or ^C: the run's supervisors, workers and redis-servers.
atexit.register(harness._cleanup)

SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")


def args(doc, **extra):
    """The command line: --seconds, --seed, and what extra adds."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=1)
    for name, kw in extra.items():
        ap.add_argument("--" + name, **kw)
    return ap.parse_args()


class Run:
    """One soak run: its folder, counters, errors and verdict."""

    def __init__(self, name, a):
        self.name = name
        self.a = a
        self.dir = tempfile.mkdtemp(prefix="mpsup-soak-%s." % name)
        self.stop = threading.Event()
        self.errors = []
        self.counts = {}
        self.lock = threading.Lock()
        self.end = time.monotonic() + a.seconds

    def count(self, what):
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + 1

    def fail(self, why):
        self.errors.append(why)
        self.stop.set()

    def running(self):
        return not self.stop.is_set() and time.monotonic() < self.end

    def thread(self, fn, *fargs):
        """Run fn in a thread; an exception fails the run."""
        def body():
            try:
                fn(*fargs)
            except Exception as e:  # noqa: BLE001 (the verdict says it)
                self.fail("%s: %s: %s" % (fn.__name__, type(e).__name__, e))
        t = threading.Thread(target=body, daemon=True)
        t.start()
        return t

    def hold(self, threads, watched=()):
        """While the run lasts, check that each watched supervisor (a
        harness.Supervisor) lives; then stop the threads and join them."""
        while self.running():
            time.sleep(0.5)
            for sup in watched:
                if sup.proc.poll() is not None:
                    self.fail("mpsup in %s exited %r under load" % (
                        os.path.basename(os.path.dirname(sup.config)),
                        sup.proc.returncode))
        self.stop.set()
        for t in threads:
            t.join(30)

    def conclude(self, stderr_paths, body):
        """Run body(); any exception fails the run. Then the sanitizer
        reports and the verdict (the exit status)."""
        try:
            body()
        except Exception as e:  # noqa: BLE001 (the verdict says it)
            self.fail("%s: %s" % (type(e).__name__, e))
        self.sanitizer_reports(stderr_paths)
        return self.verdict()

    def sanitizer_reports(self, stderr_paths):
        for path in stderr_paths:
            try:
                with open(path, errors="replace") as f:
                    text = f.read()
            except OSError:
                continue
            if any(m in text for m in SANITIZER_MARKS):
                self.fail("sanitizer report in %s:\n%s" % (path, text[-3000:]))

    def verdict(self):
        """Print the counters and OK or FAIL; the exit status."""
        print("%s: %s" % (self.name, json.dumps(dict(sorted(
            self.counts.items())))))
        if self.errors:
            print("%s: FAIL (seed %d), kept in %s:" % (
                self.name, self.a.seed, self.dir))
            for e in self.errors[:10]:
                print("  " + e)
            return 1
        print("%s: OK (seed %d, %gs)" % (self.name, self.a.seed,
                                        self.a.seconds))
        shutil.rmtree(self.dir, ignore_errors=True)
        return 0
