"""The stream-worker helper under its old name: mpsup.worker's run().

    import mpsup_worker

    def handle(data):
        return data * 2          # any JSON-serialisable value

    mpsup_worker.run(handle)

This module is kept so workers written against it go on working; it is
the same code as mpsup.worker (Worker and run), where new workers should
import it from. Installed beside mpsup's data (pkgdatadir), it finds the
mpsup package in Python's site directory; in a source tree, in ../python.

A pool with `ready = line` sends a worker no job before it writes
{"ready":true}; run(handler, setup=load) calls load() first and says ready
after it returns (a Worker says so on its own when asked for its first job,
or earlier with ready()). In pools without it nothing is written.
"""
import os
import sys

try:
    from mpsup.worker import Worker, run
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(
        __file__)), os.pardir, "python"))
    from mpsup.worker import Worker, run

__all__ = ["Worker", "run"]
