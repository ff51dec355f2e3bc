"""Sizes that read well: no C source file of mpsup over 800 lines, no
function body over 80 lines (STYLE.md: a longer file is usually two
concerns). Prints TAP, so automake counts each check.

The code is BSD style: a function's body opens with "{" at column 0 and
closes with "}" at column 0, so that is how bodies are found. Tables and
other initializers open with "{" at the end of a line ("... = {"), so they
are not functions and are not counted. A "{" at column 0 whose function
name cannot be found is reported too: the check would otherwise miscount.

Run by "make check" with MPSUP_SRCDIR set; by hand:
    MPSUP_SRCDIR=. python3 tests/unit/test_sizes.py
"""
import os
import re
import sys

MAX_FILE_LINES = 800
MAX_FUNCTION_LINES = 80

# Folders whose C sources are checked, with everything under them.
FOLDERS = ("common", "config", "ipc", "store", "supervisor", "cli", "worker")

# Generated into the build folder (an in-tree build puts it beside the
# sources); its size is the size of the page it holds.
GENERATED = ("supervisor/monitor/dashboard_html.c",)

# Known offenders: "FILE" for a file over the line limit, "FILE:FUNCTION"
# for a function over it. Empty, and to stay so: split the code instead.
# An entry that no longer offends fails the check, so the list cannot go
# stale.
KNOWN_OFFENDERS = ()


def sources(srcdir):
    """Paths (relative to srcdir, with '/') of the C files to check."""
    out = []
    for folder in FOLDERS:
        for root, dirs, files in os.walk(os.path.join(srcdir, folder)):
            dirs.sort()
            for name in sorted(files):
                if not name.endswith((".c", ".h")):
                    continue
                rel = os.path.relpath(os.path.join(root, name), srcdir)
                rel = rel.replace(os.sep, "/")
                if rel not in GENERATED:
                    out.append(rel)
    return out


# The first identifier followed by "(": the name, not a parameter's type.
NAME = re.compile(r"^(?:[^(]*?[\s*])?([A-Za-z_]\w*)\s*\(")


def function_name(lines, brace):
    """(name, line index) of the function whose body opens at lines[brace]."""
    i = brace - 1
    # The header ends just above the brace; it starts at the line that
    # holds the name and "(" (BSD style: the return type on its own line).
    while i >= 0 and i >= brace - 8:
        line = lines[i]
        if line.strip() == "" or line.startswith(("#", "}", "/*", " *")):
            break
        if not line[:1].isspace():
            m = NAME.match(line)
            if m:
                return m.group(1), i
        i -= 1
    return None, brace


def functions(lines):
    """(name, first line number, body length) of every function."""
    out = []
    start = None
    for i, line in enumerate(lines):
        if line.startswith("{"):
            start = i
        elif line.startswith("}") and start is not None:
            name, at = function_name(lines, start)
            out.append((name, at + 1, i - start - 1))
            start = None
    return out


def check(srcdir):
    """(file problems, function problems, offenders seen) for the tree."""
    file_problems, function_problems, seen = [], [], set()
    for rel in sources(srcdir):
        with open(os.path.join(srcdir, rel), encoding="utf-8",
                  errors="replace") as f:
            lines = f.read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if len(lines) > MAX_FILE_LINES:
            seen.add(rel)
            if rel not in KNOWN_OFFENDERS:
                file_problems.append("%s: %d lines (at most %d)" % (
                    rel, len(lines), MAX_FILE_LINES))
        for name, line, length in functions(lines):
            if name is None:
                function_problems.append(
                    "%s:%d: a body opens with '{' at column 0 but no "
                    "function name was found above it" % (rel, line))
                continue
            if length <= MAX_FUNCTION_LINES:
                continue
            key = "%s:%s" % (rel, name)
            seen.add(key)
            if key not in KNOWN_OFFENDERS:
                function_problems.append(
                    "%s:%d: %s() has a body of %d lines (at most %d)" % (
                        rel, line, name, length, MAX_FUNCTION_LINES))
    return file_problems, function_problems, seen


def main():
    srcdir = os.environ.get("MPSUP_SRCDIR") or os.path.dirname(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if not os.path.isdir(os.path.join(srcdir, "supervisor")):
        print("1..0 # SKIP no source tree at %s" % srcdir)
        return 0
    file_problems, function_problems, seen = check(srcdir)
    stale = ["%s: listed in KNOWN_OFFENDERS but within the limits now; "
             "remove it from the list" % k
             for k in KNOWN_OFFENDERS if k not in seen]
    results = [
        ("every source file has at most %d lines" % MAX_FILE_LINES,
         file_problems),
        ("every function body has at most %d lines" % MAX_FUNCTION_LINES,
         function_problems),
        ("every known offender still offends", stale),
    ]
    print("1..%d" % len(results))
    failed = 0
    for i, (name, problems) in enumerate(results, 1):
        print("%s %d - %s" % ("not ok" if problems else "ok", i, name))
        for p in problems:
            print("# %s" % p)
        failed += bool(problems)
    if KNOWN_OFFENDERS:
        print("# %d known offenders allowed for now" % len(KNOWN_OFFENDERS))
    sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
