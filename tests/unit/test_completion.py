"""The bash completion the Debian package installs
(packaging/bash-completion/mpsup): subcommands, their options, ctl
actions, and pool names read from the config the line names. Runs bash on
the script with COMP_WORDS set as bash would, and checks what it offers.
Prints TAP.

Run by "make check" with MPSUP_SRCDIR set; by hand:
    MPSUP_SRCDIR=. python3 tests/unit/test_completion.py
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

SRCDIR = os.environ.get("MPSUP_SRCDIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(os.path.abspath(SRCDIR), "packaging", "bash-completion", "mpsup")

CONFIG = """[supervisor]
listen = unix:mpsup.sock
[pool:alpha]
type = exec
  [pool:beta-2]   ; indented, with a comment
type = exec
[poolish]
"""


def complete(words, cwd):
    """What the completion offers for words (the last one being typed)."""
    prog = ('source "$1"; shift; COMP_WORDS=("$@"); '
            'COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _mpsup; '
            'printf "%s\\n" "${COMPREPLY[@]}"')
    out = subprocess.run(["bash", "-c", prog, "bash", SCRIPT] + words,
                         cwd=cwd, capture_output=True, text=True, timeout=10,
                         env=dict(os.environ, HOME=cwd))
    assert out.returncode == 0, out.stderr
    assert out.stderr == "", out.stderr
    return sorted(w for w in out.stdout.split("\n") if w)


def cli_commands():
    """The subcommands cli/main.c dispatches (but the internal ones)."""
    with open(os.path.join(SRCDIR, "cli", "main.c")) as f:
        text = f.read()
    names = set(re.findall(r'strcmp\(argv\[1\],\s*"([a-z][a-z-]*)"\)', text))
    names |= set(re.findall(r'\{\s*"([a-z][a-z-]*)"\s*,\s*cmd_\w+', text))
    return sorted(names - {"exec-worker"})


def main():
    if shutil.which("bash") is None:
        print("1..0 # SKIP no bash")
        return 0
    tmp = tempfile.mkdtemp(prefix="mpsup-completion-")
    cfg = os.path.join(tmp, "other.ini")
    with open(cfg, "w") as f:
        f.write(CONFIG)
    with open(os.path.join(tmp, "pool.ini"), "w") as f:
        f.write("[pool:local]\ntype = exec\n")
    commands = cli_commands()
    cases = [
        # Every subcommand of the CLI, and no other.
        (["mpsup", ""], commands or ["(no subcommand found in cli/main.c)"]),
        (["mpsup", "s"], ["status", "submit"]),
        (["mpsup", "--log-format", ""], ["json", "text"]),
        (["mpsup", "submit", "-c", cfg, "-p", ""], ["alpha", "beta-2"]),
        (["mpsup", "submit", "--config", cfg, "--pool", "b"], ["beta-2"]),
        (["mpsup", "status", "--j"], ["--json"]),
        (["mpsup", "submit", "--s"], ["--stdin"]),
        (["mpsup", "ctl", "-c", cfg, ""], ["cancel", "down", "pause",
                                          "reload", "restart", "resume",
                                          "scale", "signal", "stop", "up"]),
        (["mpsup", "ctl", "-c", cfg, "pause", ""], ["alpha", "beta-2"]),
        (["mpsup", "ctl", "-c", cfg, "restart", ""], ["alpha", "beta-2"]),
        (["mpsup", "status", "-c", cfg, ""], ["alpha", "beta-2"]),
        (["mpsup", "jobs", "--state", "f"], ["failed"]),
        (["mpsup", "logs", "-"], ["-a", "--address", "-c", "--config", "-k",
                                  "--authkey", "-f", "-p", "--pool", "--job",
                                  "-n", "--json", "--help"]),
        (["mpsup", "ctl", "-c", cfg, "scale", "alpha", ""], []),
        # No -c: ./pool.ini (when /etc/mpsup/mpsup.ini is not there).
        (["mpsup", "submit", "-p", ""], ["local"] if not os.path.exists(
            "/etc/mpsup/mpsup.ini") else None),
        # A config that cannot be read offers nothing, and says nothing.
        (["mpsup", "submit", "-c", os.path.join(tmp, "none.ini"), "-p",
          ""], []),
    ]
    print("1..%d" % len(cases), flush=True)
    failed = 0
    try:
        for i, (words, want) in enumerate(cases, 1):
            got = complete(words, tmp)
            ok = want is None or got == sorted(want)
            if not ok:
                print("# %r: offered %r, expected %r" % (words, got, want))
                failed += 1
            print("%s %d - complete %s" % ("ok" if ok else "not ok", i,
                                           " ".join(words) + "|"))
    finally:
        shutil.rmtree(tmp)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
