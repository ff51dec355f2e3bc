"""Every config key is documented, and only keys that exist: the key table
of the config (config/config_keys.c) against mpsup.ini(5)
(packaging/mpsup.ini.5) and the README's key table ("### Keys"), section
by section. Prints TAP, one check per pair, and for a failure one line per
key that is missing somewhere, saying from where, so a merge that added a
key to one of them is fixed in a minute.

Keys are read as they are written:
- config_keys.c: the entries of every `struct key_def` table, either
  through a macro (`SUP("name", ...)`, `POOL_SET("name", ...)`, `X(...)`:
  the section is the macro's name up to `_`, SUP meaning supervisor) or
  spelled out (`{ "name", SECT_POOL, ... }`);
- the man page: `.B name` right after `.TP`, under `.SS [section]` or
  `.SS [section:NAME]`;
- the README: rows `| [section] | name | default |` (in backquotes) of
  the table under "### Keys".

Run by "make check" with MPSUP_SRCDIR set; by hand:
    MPSUP_SRCDIR=. python3 tests/unit/test_docs.py
"""
import os
import re
import sys

CONFIG = "config/config_keys.c"
MANPAGE = "packaging/mpsup.ini.5"
README = "README.md"

# Macro prefixes of the key table whose section name differs.
MACRO_SECTIONS = {"SUP": "supervisor", "SCHED": "schedule"}


def table_keys(srcdir):
    """{(section, key): line} of the config's key tables."""
    keys = {}
    with open(os.path.join(srcdir, CONFIG)) as f:
        text = f.read()
    for table in re.finditer(
            r"struct key_def\s+\w+\s*\[\s*\]\s*=\s*\{(.*?)\n\};", text, re.S):
        start = text.count("\n", 0, table.start(1)) + 1
        body = table.group(1)
        for m in re.finditer(
                r'\b([A-Z][A-Z0-9]*)(?:_[A-Z0-9_]+)?\(\s*"([a-z0-9_]+)"', body):
            sect = MACRO_SECTIONS.get(m.group(1), m.group(1).lower())
            keys[(sect, m.group(2))] = start + body.count("\n", 0, m.start())
        for m in re.finditer(r'\{\s*"([a-z0-9_]+)"\s*,\s*SECT_([A-Z]+)', body):
            sect = MACRO_SECTIONS.get(m.group(2), m.group(2).lower())
            keys[(sect, m.group(1))] = start + body.count("\n", 0, m.start())
    return keys


def man_keys(srcdir):
    keys = {}
    sect = None
    prev = ""
    with open(os.path.join(srcdir, MANPAGE)) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            m = re.match(r"\.SS\s+\[([a-z]+)(?::[A-Za-z]+)?\]\s*$", line)
            if m:
                sect = m.group(1)
            elif line.startswith(".SH"):
                sect = None
            elif sect and prev == ".TP":
                m = re.match(r"\.B\s+([a-z0-9_]+)\s*$", line)
                if m:
                    keys[(sect, m.group(1))] = n
            prev = line
    return keys


def readme_keys(srcdir):
    keys = {}
    inside = False
    with open(os.path.join(srcdir, README)) as f:
        for n, line in enumerate(f, 1):
            if line.startswith("#"):
                inside = line.strip() == "### Keys"
                continue
            m = inside and re.match(
                r"\|\s*`\[([a-z]+)(?::[A-Za-z]+)?\]`\s*\|\s*`([a-z0-9_]+)`\s*\|",
                line)
            if m:
                keys[(m.group(1), m.group(2))] = n
    return keys


def compare(a_name, a, b_name, b):
    """Lines saying which keys one side has and the other lacks."""
    out = []
    for sect, key in sorted(set(a) - set(b)):
        out.append("key '%s' of [%s] (%s:%d) is missing from %s" %
                   (key, sect, a_name, a[(sect, key)], b_name))
    for sect, key in sorted(set(b) - set(a)):
        out.append("key '%s' of [%s] (%s:%d) is missing from %s" %
                   (key, sect, b_name, b[(sect, key)], a_name))
    return out


def main():
    srcdir = os.environ.get("MPSUP_SRCDIR") or os.path.dirname(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    config = table_keys(srcdir)
    sides = [(MANPAGE, man_keys(srcdir)), (README, readme_keys(srcdir))]
    checks = [("the config has keys", [] if len(config) >= 10 else
               ["only %d keys found in %s: has its format changed?" %
                (len(config), CONFIG)])]
    for name, keys in sides:
        checks.append(("%s documents every key of %s, and no other" %
                       (name, CONFIG), compare(CONFIG, config, name, keys)))
    print("1..%d" % len(checks))
    failed = 0
    for i, (what, problems) in enumerate(checks, 1):
        for p in problems:
            print("# " + p)
        print("%s %d - %s" % ("not ok" if problems else "ok", i, what))
        failed += bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
