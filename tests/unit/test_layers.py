#!/usr/bin/env python3
"""The layers' one-way doors, checked on every `#include "..."` of the tree.

Layers, lowest first (README "Layout"): common <- config <- ipc <- store
<- supervisor (the core) <- supervisor/remote, supervisor/monitor <- cli.
The worker library (worker/) uses common only (libc-only by design); the
exec worker (worker/exec/) sits on common, config and ipc. A file may include its own layer and the
layers below it, never one above, and remote and monitor never include
each other. Inside a layer the includes between its files must not form a
circle. A failure names FILE:LINE and the include that goes against the
direction (TAP output, standard library only).
"""

import os
import re
import sys

SRCDIR = os.environ.get("MPSUP_SRCDIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))

# What each layer may include besides itself.
ALLOWED = {
    "common": set(),
    "config": {"common"},
    "ipc": {"common", "config"},
    "store": {"common", "config", "ipc"},
    "supervisor": {"common", "config", "ipc", "store"},
    "supervisor/remote": {"common", "config", "ipc", "store", "supervisor"},
    "supervisor/monitor": {"common", "config", "ipc", "store", "supervisor"},
    "worker": {"common"},
    "worker/exec": {"common", "config", "ipc"},
    "cli": {"common", "config", "ipc", "store", "supervisor",
            "supervisor/remote", "supervisor/monitor", "worker/exec"},
}
# Headers that are not a layer's: the build's config.h and the worker
# library's public header (an installed header, found through -I).
EXTERNAL = {"config.h", "mpsup/worker.h"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer_of(path):
    """The layer a path (relative to the top) belongs to, or None."""
    d = os.path.dirname(path)
    if d == "worker/include/mpsup":
        return "worker"
    best = None
    for name in ALLOWED:
        if d == name and (best is None or len(name) > len(best)):
            best = name
    return best


def sources():
    for top in ALLOWED:
        full = os.path.join(SRCDIR, top)
        for name in sorted(os.listdir(full)):
            if name.endswith((".c", ".h")):
                yield top + "/" + name


def includes(path):
    with open(os.path.join(SRCDIR, path), encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if m:
                yield lineno, m.group(1)


def check_direction():
    bad = []
    for path in sources():
        mine = layer_of(path)
        for lineno, inc in includes(path):
            if inc in EXTERNAL:
                continue
            theirs = layer_of(inc)
            if theirs is None:
                bad.append("%s:%d: includes %s, which is in no layer"
                           % (path, lineno, inc))
            elif theirs != mine and theirs not in ALLOWED[mine]:
                bad.append("%s:%d: %s includes %s (%s may not include %s)"
                           % (path, lineno, path, inc, mine, theirs))
    return bad


def module(path):
    """A file's module: its stem, with a private "_impl" header counted in."""
    stem = os.path.splitext(path)[0]
    return stem[:-5] if stem.endswith("_impl") else stem


def check_circles():
    """Includes between the modules (file stems) of one layer: no circle."""
    graph = {}
    for path in sources():
        src = module(path)
        for _, inc in includes(path):
            if inc in EXTERNAL or layer_of(inc) != layer_of(path):
                continue
            dst = module(inc)
            if dst != src:
                graph.setdefault(src, set()).add(dst)
    circles = []
    state = {}
    stack = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                circle = stack[stack.index(nxt):] + [nxt]
                circles.append(" -> ".join(circle))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return circles


def main():
    tests = [("includes point down the layers", check_direction),
             ("no include circle inside a layer", check_circles)]
    print("1..%d" % len(tests))
    failed = 0
    for i, (name, fn) in enumerate(tests, 1):
        problems = fn()
        if problems:
            failed += 1
            print("not ok %d - %s" % (i, name))
            for p in problems:
                print("# " + p)
        else:
            print("ok %d - %s" % (i, name))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
