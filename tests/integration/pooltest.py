"""What the tests of the mpsup Python module share: the functions the
workers run (written as the module pooltasks into a folder on sys.path
and into each test's folder, where the workers import it), the
supervisor configuration, and a client for the supervisor's counters.
"""
import atexit
import os
import re
import shutil
import sys
import tempfile

import harness
from harness import SRCDIR, Supervisor, write

PYTHON_DIR = os.path.join(SRCDIR, "python")
sys.path.insert(0, PYTHON_DIR)

import mpsup  # noqa: E402

TASKS = r'''
import os
import time


def sqr(x, wait=0.0):
    time.sleep(wait)
    return x * x


def mul(x, y):
    return x * y


def identity(x):
    return x


def echo(*args, **kwargs):
    return [list(args), kwargs]


def raising():
    raise KeyError("key")


def fail_at(x, bad=5):
    if x == bad:
        raise ValueError("bad item %d" % x)
    return x


class MyError(Exception):
    pass


def my_error(n):
    raise MyError("mine %d" % n)


def shout(text):
    print("shouting", text, flush=True)
    return text


def make_set():
    return {1, 2}


def nap(secs):
    time.sleep(secs)
    return secs


def worker_pid(x, wait=0.0):
    time.sleep(wait)
    return [x, os.getpid()]
'''

_tasks_dir = tempfile.mkdtemp(prefix="mpsup-pooltasks-")
atexit.register(shutil.rmtree, _tasks_dir, True)
write(os.path.join(_tasks_dir, "pooltasks.py"), TASKS)
sys.path.insert(0, _tasks_dir)

import pooltasks  # noqa: E402,F401


def start(tmp, workers=2, extra="", sup_extra="", allow="pooltasks",
          python=None, command=None):
    """A supervisor whose stream pool "py" runs mpsup.worker (or, when
    command is given, that command instead)."""
    write(os.path.join(tmp, "pooltasks.py"), TASKS)
    values = {"name": "py", "workers": workers, "allow": allow,
              "pythonpath": PYTHON_DIR, "extra": extra}
    if python:
        values["python"] = python
    text = harness.config("supervisor", extra=sup_extra) + \
        harness.config("pool_mpsup", **values)
    if command is not None:
        text = re.sub(r"(?m)^command = .*$", lambda m: "command = " + command,
                      text)
    sup = Supervisor(tmp, text)
    harness.wait_for(lambda: os.path.exists(os.path.join(tmp, "mpsup.sock"))
                     and os.path.exists(os.path.join(tmp, "authkey")),
                     what="listener socket and key")
    def ready():
        try:
            pools = status(tmp)["pools"]
        except mpsup.Error as e:
            if e.code != "connection":      # bound, not yet listening
                raise
            return False
        return all(p["workers_idle"] == p["workers_target"] for p in pools)
    harness.wait_for(ready, what="idle workers")
    return sup


def status(tmp):
    """The status document, over mpsup.Client."""
    with mpsup.Client(config=os.path.join(tmp, "pool.ini")) as c:
        return c.status()


def pool(tmp, **kw):
    """An mpsup.Pool on the pool "py" of the supervisor in tmp."""
    return mpsup.Pool("py", config=os.path.join(tmp, "pool.ini"), **kw)


def counters(tmp, name="py"):
    """The pool's job counters, from the status op."""
    doc = status(tmp)
    harness.check_invariant(doc)
    return {p["name"]: p for p in doc["pools"]}[name]["jobs"]


class SayWhenError(ValueError):
    pass


def exception_throwing_generator(total, when):
    """As CPython's pool tests: yields 0.. and raises at `when`."""
    if when == -1:
        raise SayWhenError("Somebody said when")
    for i in range(total):
        if i == when:
            raise SayWhenError("Somebody said when")
        yield i
