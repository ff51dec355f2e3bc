#!/usr/bin/env python3
"""A stream-pool worker in Python: answers every job with its data times two.

    [pool:double]
    type    = stream
    command = python3 examples/double_worker.py

21 gives 42, "ab" gives "abab", [1] gives [1, 1]; data that cannot be
doubled (an object, null) fails that job with the exception's message. The
print() below goes to the supervisor's log, never into the job channel.

The same worker as a jq one-liner (jq reads jobs on stdin, writes results
on stdout, one compact line each, flushed per line):

    jq -c --unbuffered '{id, ok: true, result: (.data * 2)}'
"""
import os
import sys

try:
    import mpsup_worker
except ImportError:
    # Run from a source tree: the helper lives in ../worker.
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    os.pardir, "worker"))
    import mpsup_worker


def double(data):
    """The handler: one job's data in, its result out."""
    print("doubling %r" % (data,))
    if isinstance(data, bool) or data is None or isinstance(data, dict):
        raise TypeError("cannot double %s" % type(data).__name__)
    return data * 2


if __name__ == "__main__":
    mpsup_worker.run(double)
