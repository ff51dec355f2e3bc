#!/usr/bin/env python3
"""What one job costs Redis, for three ways of keeping the cluster queue.

    python3 bench/redis_model.py [--jobs N] [--batch B] [--srcdir DIR]

Drives a private redis-server (tests/integration/redisd.py: unix socket,
no AOF, no RDB) straight from Python, without mpsup, through one job's
life (submit, claim, start, finish) in batches, and reports redis-server's
CPU time per job (utime + stime from /proc, before and after) and its
commands per job (INFO commandstats). The client's own speed does not
enter the figure: only what Redis spent.

  scripts  mpsup's own Lua scripts, read from store/queue_redis_lua.c,
           called as the nodes call them: one submit call per batch, one
           claim call per batch, one update call with an "a" (attempt
           started) entry per job, one with an "f" (finished) entry per job;
  slim     the same states and checks in Lua with fewer calls: the job's
           fields ride in its stream entry, one HSET per change of state,
           no "a" update after a claim, notify only when someone watches,
           and finished entries XACKed and XDELed with one call per batch;
  native   no Lua: pipelined XADD per job, XREADGROUP COUNT B, a pipelined
           HSET + EXPIRE per finished job, and one XACK and one XDEL per
           batch with all its ids (no fencing);
  packed   no Lua, and not a command per job: one stream entry per
           submitted batch (its jobs' ids and data as the entry's fields),
           claimed whole, and the finished records written as fields of
           one hash per second of submission (HSET with the whole batch,
           EXPIRE), the entry XACKed and XDELed (no fencing: what Redis
           costs when its per-command price is paid once per batch);
  packed+lua  packed, with a batch's end in one script that first checks
           (XPENDING of the entry) that this consumer still holds it: a
           fence per entry, atomic with the records' write.

Every model checks at the end that all jobs were claimed and finished and
the stream is empty; otherwise it exits non-zero.

--callgrind runs redis-server under valgrind --tool=callgrind and reports
its instructions per job instead of CPU time (the machine's load does not
move them; slow: use --jobs 20000), for the models named by --models.
"""

import argparse
import importlib.util
import os
import re
import shutil
import sys
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def load_redisd(srcdir):
    path = os.path.join(srcdir, "tests", "integration", "redisd.py")
    spec = importlib.util.spec_from_file_location("redisd", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def c_strings(text):
    """Concatenate the C string literals of text, escapes decoded."""
    out = []
    for lit in re.findall(r'"((?:[^"\\]|\\.)*)"', text):
        out.append(lit.encode().decode("unicode_escape"))
    return "".join(out)


def mpsup_scripts(srcdir):
    """{name: Lua source} from store/queue_redis_lua.c, macros expanded."""
    with open(os.path.join(srcdir, "store", "queue_redis_lua.c")) as f:
        src = f.read()
    macros = {}
    for m in re.finditer(r"#define (LUA_\w+)\s*\\\n(.*?)(?<!\\)\n(?=\n|/\*|#)",
                         src, re.S):
        macros[m.group(1)] = c_strings(m.group(2))
    scripts = {}
    for m in re.finditer(r"const char queue_redis_lua_(\w+)\[\] =\s*(.*?);\n",
                         src, re.S):
        body = m.group(2)
        text = ""
        for tok in re.findall(r'LUA_\w+|"(?:[^"\\]|\\.)*"', body):
            text += macros[tok] if tok.startswith("LUA_") else c_strings(tok)
        scripts[m.group(1)] = text
    return scripts


class Pipe:
    """Send many commands, then read all their replies."""

    def __init__(self, redisd, r):
        self.sock = r.connect(timeout=120)
        self.reader = redisd._Reader(self.sock)
        self.encode = redisd.encode
        self.n = 0
        self.out = []

    def add(self, *args):
        self.out.append(self.encode(args))
        self.n += 1

    def run(self):
        self.sock.sendall(b"".join(self.out))
        self.out = []
        replies = []
        for _ in range(self.n):
            replies.append(self.reader._reply_or_error())
        self.n = 0
        for rep in replies:
            if isinstance(rep, Exception):
                raise SystemExit("redis: %s" % rep)
        return replies

    def call(self, *args):
        self.add(*args)
        return self.run()[0]


PRE = "mpsup:{echo}:"
KQ, KD = PRE + "q", PRE + "d"
ME = "n0:1"


def model_scripts(p, scripts, jobs, batch):
    """mpsup's scripts, driven as a node does (see queue_redis_net.c)."""
    sha = {k: p.call("SCRIPT", "LOAD", v) for k, v in scripts.items()}
    seq = 0
    for base in range(0, jobs, batch):
        n = min(batch, jobs - base)
        now = "%.6f" % time.time()
        args = [PRE, "echo", "1000000000", now, ME]
        for e in range(0, n, 64):
            ids, blobs = [], []
            for i in range(min(64, n - e)):
                seq += 1
                ids.append("%016x" % seq)
                b = "0\n%s\n0\n0\n7\n0\n0\ndefault%d" % (now, seq)
                blobs.append("%d\n%s" % (len(b), b))
            slots = []
            for i in ids:
                if i[:11] not in slots:
                    slots.append(i[:11])
            # One request: its first entry begins the script's unit.
            args += ["".join(ids), "".join(blobs), "".join(slots), "",
                     "1" if e == 0 else ""]
        p.call("EVALSHA", sha["submit"], 2, KQ, KD, *args)
        taken = p.call("EVALSHA", sha["claim"], 1, KQ, PRE, ME, n)
        got = sum(len(dict(zip(f[::2], f[1::2]))[b"i"]) // 16
                  for _, f in taken)
        if got != n:
            raise SystemExit("scripts: claimed %d of %d" % (got, n))
        args = [PRE, "echo", ME, "3600", "0", "100000"]
        for x, f in taken:
            ids = dict(zip(f[::2], f[1::2]))[b"i"].decode()
            ids = [ids[k:k + 16] for k in range(0, len(ids), 16)]
            fd = dict(zip(f[::2], f[1::2]))
            args += [x, fd[b"o"], fd[b"k"], "f", "", ids[0][:9], len(ids)]
            for i in ids:
                rec = "done\n1\n0\n%s\n%s\n0\n%s\n7\n2\n0\ndefault42" % (
                    now, now, now)
                args += [i, rec]
        fenced = p.call("EVALSHA", sha["update"], 1, KQ, *args)
        if fenced:
            raise SystemExit("scripts: %d fenced" % len(fenced))


SLIM_SUBMIT = """
local pre, me = ARGV[1], ARGV[2]
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('XGROUP', 'CREATE', KEYS[1], 'mpsup', '0', 'MKSTREAM') end
for b = 3, #ARGV - 1, 3 do
  local id = ARGV[b]
  local x = redis.call('XADD', KEYS[1], '*', 'j', id, 'd', ARGV[b+1],
    'sub', ARGV[b+2], 'o', me)
  redis.call('HSET', pre .. 'j:' .. id, 's', 'queued', 'x', x, 'd',
    ARGV[b+1], 'o', me, 'sub', ARGV[b+2], 'a', 0)
end
return #ARGV
"""

SLIM_CLAIM = """
local pre, me = ARGV[1], ARGV[2]
local r = redis.call('XREADGROUP', 'GROUP', 'mpsup', me, 'COUNT', ARGV[3],
  'STREAMS', KEYS[1], '>')
local out = {}
if not r then return out end
for _, e in ipairs(r[1][2]) do
  local f = e[2]
  local jk = pre .. 'j:' .. f[2]
  local a = redis.call('HINCRBY', jk, 'a', 1)
  redis.call('HSET', jk, 's', 'running', 'n', me, 'st', ARGV[4])
  out[#out+1] = {f[2], a, f[4], f[6], f[8], e[1]}
end
return out
"""

SLIM_FINISH = """
local pre, me, ttl = ARGV[1], ARGV[2], ARGV[3]
local xs, fenced = {}, {}
for b = 4, #ARGV - 1, 5 do
  local jk = pre .. 'j:' .. ARGV[b]
  local h = redis.call('HMGET', jk, 's', 'n', 'a', 'w')
  if h[1] ~= 'running' or h[2] ~= me or h[3] ~= ARGV[b+1] then
    fenced[#fenced+1] = ARGV[b]
  else
    redis.call('HSET', jk, 's', 'done', 'r', ARGV[b+2], 'fin', ARGV[b+3],
      'd', '')
    redis.call('EXPIRE', jk, ttl)
    xs[#xs+1] = ARGV[b+4]
    if h[4] then redis.call('PUBLISH', 'mpsup:done:' .. h[4], ARGV[b]) end
  end
end
if #xs > 0 then
  redis.call('XACK', KEYS[1], 'mpsup', unpack(xs))
  redis.call('XDEL', KEYS[1], unpack(xs))
end
return fenced
"""


def model_slim(p, jobs, batch):
    sha = [p.call("SCRIPT", "LOAD", s)
           for s in (SLIM_SUBMIT, SLIM_CLAIM, SLIM_FINISH)]
    seq = 0
    for base in range(0, jobs, batch):
        n = min(batch, jobs - base)
        now = "%.6f" % time.time()
        args = [PRE, ME]
        for i in range(n):
            seq += 1
            args += ["%016x" % seq, str(seq), now]
        p.call("EVALSHA", sha[0], 1, KQ, *args)
        taken = p.call("EVALSHA", sha[1], 1, KQ, PRE, ME, n, now)
        if len(taken) != n:
            raise SystemExit("slim: claimed %d of %d" % (len(taken), n))
        args = [PRE, ME, "3600"]
        for t in taken:
            args += [t[0], t[1], t[2], now, t[5]]
        if p.call("EVALSHA", sha[2], 1, KQ, *args):
            raise SystemExit("slim: fenced")


def model_native(p, jobs, batch):
    p.call("XGROUP", "CREATE", KQ, "mpsup", "0", "MKSTREAM")
    seq = 0
    for base in range(0, jobs, batch):
        n = min(batch, jobs - base)
        now = "%.6f" % time.time()
        for i in range(n):
            seq += 1
            p.add("XADD", KQ, "*", "j", "%016x" % seq, "d", str(seq),
                  "sub", now, "o", ME)
        p.run()
        r = p.call("XREADGROUP", "GROUP", "mpsup", ME, "COUNT", n,
                   "STREAMS", KQ, ">")
        entries = r[0][1] if r else []
        if len(entries) != n:
            raise SystemExit("native: claimed %d of %d" % (len(entries), n))
        xs = []
        for x, f in entries:
            jk = PRE + "j:" + f[1].decode()
            p.add("HSET", jk, "s", "done", "r", f[3], "fin", now, "n", ME)
            p.add("EXPIRE", jk, 3600)
            xs.append(x)
        p.add("XACK", KQ, "mpsup", *xs)
        p.add("XDEL", KQ, *xs)
        p.run()


def model_packed(p, jobs, batch):
    """A stream entry per submitted batch, finished records as fields of
    one hash per second of submission."""
    p.call("XGROUP", "CREATE", KQ, "mpsup", "0", "MKSTREAM")
    seq = 0
    for base in range(0, jobs, batch):
        n = min(batch, jobs - base)
        now = "%.6f" % time.time()
        fields = []
        for i in range(n):
            seq += 1
            fields += ["%016x" % seq, str(seq)]
        p.call("XADD", KQ, "*", "o", ME, "sub", now, *fields)
        r = p.call("XREADGROUP", "GROUP", "mpsup", ME, "COUNT", 1,
                   "STREAMS", KQ, ">")
        entries = r[0][1] if r else []
        got = sum((len(f) - 4) // 2 for _, f in entries)
        if got != n:
            raise SystemExit("packed: claimed %d of %d" % (got, n))
        for x, f in entries:
            rk = PRE + "r:" + now.split(".")[0]
            rec = []
            for i in range(4, len(f), 2):
                rec += [f[i], b"done\n" + f[i + 1]]
            p.add("HSET", rk, *rec)
            p.add("EXPIRE", rk, 3600)
            p.add("XACK", KQ, "mpsup", x)
            p.add("XDEL", KQ, x)
        p.run()


PACKED_FINISH = """
local me, ttl, x = ARGV[1], ARGV[2], ARGV[3]
local p = redis.call('XPENDING', KEYS[1], 'mpsup', x, x, 1)
if not p[1] or p[1][2] ~= me then return 0 end
redis.call('HSET', KEYS[2], unpack(ARGV, 4))
redis.call('EXPIRE', KEYS[2], ttl)
redis.call('XACK', KEYS[1], 'mpsup', x)
redis.call('XDEL', KEYS[1], x)
return 1
"""


def model_packed_lua(p, jobs, batch):
    """packed, with the end of a batch fenced in a script: only the
    consumer that holds the entry may write its records."""
    sha = p.call("SCRIPT", "LOAD", PACKED_FINISH)
    p.call("XGROUP", "CREATE", KQ, "mpsup", "0", "MKSTREAM")
    seq = 0
    for base in range(0, jobs, batch):
        n = min(batch, jobs - base)
        now = "%.6f" % time.time()
        fields = []
        for i in range(n):
            seq += 1
            fields += ["%016x" % seq, str(seq)]
        p.call("XADD", KQ, "*", "o", ME, "sub", now, *fields)
        r = p.call("XREADGROUP", "GROUP", "mpsup", ME, "COUNT", 1,
                   "STREAMS", KQ, ">")
        entries = r[0][1] if r else []
        got = sum((len(f) - 4) // 2 for _, f in entries)
        if got != n:
            raise SystemExit("packed+lua: claimed %d of %d" % (got, n))
        for x, f in entries:
            rec = []
            for i in range(4, len(f), 2):
                rec += [f[i], b"done\n" + f[i + 1]]
            if p.call("EVALSHA", sha, 2, KQ, PRE + "r:" +
                      now.split(".")[0], ME, 3600, x, *rec) != 1:
                raise SystemExit("packed+lua: fenced")


def instructions(pid, outdir):
    """Dump callgrind's counters (zeroed by the dump): instructions."""
    import glob
    import subprocess
    before = set(glob.glob(os.path.join(outdir, "cg.out.*")))
    subprocess.run(["callgrind_control", "-d", str(pid)], check=True,
                   capture_output=True)
    total = 0
    for f in set(glob.glob(os.path.join(outdir, "cg.out.*"))) - before:
        with open(f) as fh:
            for line in fh:
                if line.startswith(("summary:", "totals:")):
                    total += int(line.split()[1])
                    break
    return total


def measure(redisd, tmp, name, fn, jobs, cg=None):
    with redisd.Redisd(tmp) as r:
        p = Pipe(redisd, r)
        r.cmd("CONFIG", "RESETSTAT")
        if cg:
            instructions(r.pid, cg)
        c0, t0 = cpu(r.pid), time.monotonic()
        fn(p)
        c1, t1 = cpu(r.pid), time.monotonic()
        if cg:
            c0, c1 = 0, instructions(r.pid, cg) / 1e6
        left = r.cmd("XLEN", KQ)
        pending = r.cmd("XPENDING", KQ, "mpsup")[0]
        if left or pending:
            raise SystemExit("%s: %d entries left, %d pending" % (
                name, left, pending))
        calls = 0
        for line in r.cmd("INFO", "commandstats").decode().splitlines():
            m = re.match(r"cmdstat_([^:]+):calls=(\d+)", line)
            if m and m.group(1) not in ("config|resetstat", "script|load",
                                        "ping"):
                calls += int(m.group(2))
        p.sock.close()
    return (c1 - c0) * 1e6 / jobs, calls / jobs, t1 - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=200000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=2,
                    help="models are run in turns, this many times each")
    ap.add_argument("--srcdir", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), ".."))
    ap.add_argument("--callgrind", action="store_true",
                    help="instructions per job under callgrind")
    ap.add_argument("--models", default=None,
                    help="comma-separated models to run (default: all)")
    args = ap.parse_args()
    redisd = load_redisd(args.srcdir)
    scripts = mpsup_scripts(args.srcdir)
    for need in ("submit", "claim", "update"):
        if need not in scripts:
            sys.exit("redis_model: no %s script in queue_redis_lua.c" % need)
    models = (
        ("scripts", lambda p: model_scripts(p, scripts, args.jobs,
                                            args.batch)),
        ("slim", lambda p: model_slim(p, args.jobs, args.batch)),
        ("native", lambda p: model_native(p, args.jobs, args.batch)),
        ("packed", lambda p: model_packed(p, args.jobs, args.batch)),
        ("packed+lua", lambda p: model_packed_lua(p, args.jobs,
                                                  args.batch)),
    )
    if args.models:
        want = args.models.split(",")
        models = tuple(m for m in models if m[0] in want)
    tmp = tempfile.mkdtemp(prefix="mpsup-redis-model.")
    cg = None
    if args.callgrind:
        cg = os.path.join(tmp, "callgrind")
        os.makedirs(cg)
        wrapper = os.path.join(cg, "redis-server")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec valgrind --tool=callgrind "
                    "--callgrind-out-file=%s/cg.out.%%p %s \"$@\"\n" % (
                        cg, redisd.REDIS_SERVER))
        os.chmod(wrapper, 0o755)
        redisd.REDIS_SERVER = wrapper
        redisd.START_TIMEOUT = 60
    print("%d jobs, batches of %d; load average %s" % (
        args.jobs, args.batch, " ".join(
            "%.1f" % x for x in os.getloadavg())), flush=True)
    print("%-10s %18s %16s %10s" % ("model", "redis instr/job" if cg else
                                   "redis CPU us/job", "commands/job",
                                   "wall s"))
    try:
        for _ in range(args.rounds):
            for name, fn in models:
                us, calls, wall = measure(redisd, tmp, name, fn, args.jobs,
                                          cg)
                print("%-10s %18.2f %16.1f %10.2f" % (name, us, calls,
                                                      wall), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
