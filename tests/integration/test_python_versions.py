"""The mpsup Python module on every Python from 3.8 up installed here
(the one running the tests, pyenv's, /usr/bin's): for each, a supervisor
whose workers run mpsup.worker under that Python, and a client under the
same Python that goes through Pool (apply, map, imap, imap_unordered,
starmap, packed chunks, an exception, a refused value) and Executor,
with a supervisor that does not accept the legacy MD5 handshake. Versions not installed
are listed and skipped; the suite passes with python3 alone.
"""
import glob
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import run_tests, write  # noqa: E402
from pooltest import PYTHON_DIR, start  # noqa: E402

CLIENT = r'''
import concurrent.futures, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import mpsup
from pooltasks import fail_at, identity, mul, sqr
ini = sys.argv[3]
with mpsup.Pool("py", config=ini) as p:
    assert p.apply(sqr, (4,)) == 16
    assert p.map(sqr, range(100)) == [x * x for x in range(100)]
    assert list(p.imap(sqr, range(50), 7)) == [x * x for x in range(50)]
    assert sorted(p.imap_unordered(sqr, range(50))) == \
        [x * x for x in range(50)]
    assert p.starmap(mul, [(1, 2), (3, 4)]) == [2, 12]
    # Chunks as packed columns (array, base64) on this Python.
    floats = [0.5, -0.0, 1e308, 5e-324]
    got = p.map(identity, floats, 2)
    assert got == floats and str(got[1]) == "-0.0", got
    ints = [-(2 ** 63), 2 ** 63 - 1, 0, 2 ** 31, -129, 7]
    assert p.map(identity, ints, 3) == ints
    assert p.map(sqr, range(-3, 10 ** 4, 3)) == \
        [x * x for x in range(-3, 10 ** 4, 3)]
    assert p.apply(identity, (b"\x00\xff",)) == b"\x00\xff"
    try:
        p.map(fail_at, range(10))
        raise AssertionError("no ValueError")
    except ValueError as e:
        assert str(e) == "bad item 5"
    try:
        p.apply(sqr, ({1},))
        raise AssertionError("a set crossed")
    except TypeError:
        pass
with mpsup.Executor("py", config=ini) as ex:
    assert ex.submit(mul, 6, 7).result(10) == 42
    assert list(ex.map(mul, range(5), range(5))) == [0, 1, 4, 9, 16]
print("OK %d.%d" % sys.version_info[:2])
'''


def interpreters():
    """{(major, minor): executable} for each installed Python >= 3.8."""
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates = [sys.executable]
    candidates += sorted(glob.glob(os.path.join(root, "versions", "*", "bin",
                                                "python3")))
    candidates += sorted(glob.glob("/usr/bin/python3.[0-9]*"))
    found = {}
    for exe in candidates:
        if exe.endswith("-config") or not os.access(exe, os.X_OK):
            continue
        try:
            out = subprocess.run(
                [exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True, text=True, timeout=20).stdout.strip()
            version = tuple(int(x) for x in out.split("."))
        except (OSError, ValueError, subprocess.TimeoutExpired):
            continue
        if version >= (3, 8):
            found.setdefault(version, exe)
    return dict(sorted(found.items()))


def test_pool_and_executor_on_every_python(tmp):
    found = interpreters()
    assert found, "no Python 3.8+ found (not even this one)"
    print("# under: " + ", ".join("%d.%d" % v for v in found))
    missing = [m for m in ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13")
               if m not in ["%d.%d" % v for v in found]]
    if missing:
        print("# not installed, skipped: " + ", ".join(missing))
    script = write(os.path.join(tmp, "client.py"), CLIENT)
    for version, exe in found.items():
        folder = os.path.join(tmp, "py%d%d" % version)
        os.mkdir(folder)
        sup = start(folder, python=exe)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("PYTHON")}
        r = subprocess.run([exe, script, PYTHON_DIR, folder,
                            os.path.join(folder, "pool.ini")],
                           capture_output=True, text=True, timeout=60,
                           env=env, cwd=folder)
        want = "OK %d.%d" % version
        assert r.returncode == 0 and r.stdout.strip() == want, \
            (version, r.returncode, r.stdout, r.stderr[-3000:])
        assert sup.stop() == 0


def test_pip_installs_the_package_offline_into_a_venv(tmp):
    """pip install ./python with no index at all: the in-tree backend
    needs nothing fetched; the installed module is the one imported."""
    from harness import SRCDIR, Skip
    venv = os.path.join(tmp, "venv")
    r = subprocess.run([sys.executable, "-m", "venv", venv],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise Skip("no venv with pip here: " + r.stderr.strip()[-200:])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    # Build from a copy: pip may write into the folder it builds.
    import shutil
    src = shutil.copytree(os.path.join(SRCDIR, "python"),
                          os.path.join(tmp, "src"),
                          ignore=shutil.ignore_patterns("__pycache__"))
    py = os.path.join(venv, "bin", "python")
    r = subprocess.run([py, "-m", "pip", "install", src],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    r = subprocess.run([py, "-c", "import mpsup, mpsup.worker; "
                        "print(mpsup.__file__, mpsup.__version__)"],
                       capture_output=True, text=True, timeout=60, env=env,
                       cwd=tmp)
    assert r.returncode == 0 and r.stdout.startswith(venv), r
    r = subprocess.run([py, "-m", "mpsup.worker", "--help"],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0 and "--allow" in r.stdout, r


if __name__ == "__main__":
    run_tests(globals(), timeout=120)
