"""A PEP 517 build backend for the mpsup package, standard library only.

`pip install ./python` builds in an isolated environment and would fetch
setuptools from an index first; with this backend there is nothing to
fetch, so the install works offline, in any venv, on any Python 3.8+.
The package is pure Python: a wheel is its .py files and the metadata,
an sdist this folder's files.
"""
import base64
import hashlib
import os
import tarfile
import zipfile

__all__ = ["build_wheel", "build_sdist", "get_requires_for_build_wheel",
           "get_requires_for_build_sdist",
           "prepare_metadata_for_build_wheel"]

NAME = "mpsup"
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TAG = "py3-none-any"


def _version():
    """The version in pyproject.toml ([project] version = "...")."""
    with open(os.path.join(HERE, "pyproject.toml"), encoding="utf-8") as f:
        for line in f:
            key, sep, value = line.partition("=")
            if sep and key.strip() == "version":
                return value.strip().strip('"')
    raise RuntimeError("pyproject.toml has no version")


def _metadata():
    with open(os.path.join(HERE, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    return ("Metadata-Version: 2.1\nName: %s\nVersion: %s\n"
            "Summary: multiprocessing.Pool's API on a supervised mpsup pool\n"
            "Requires-Python: >=3.8\n"
            "Description-Content-Type: text/markdown\n\n%s"
            % (NAME, _version(), readme))


def _package_files():
    """(path in the wheel, path here) of every module of the package."""
    top = os.path.join(HERE, NAME)
    for name in sorted(os.listdir(top)):
        if name.endswith(".py"):
            yield "%s/%s" % (NAME, name), os.path.join(top, name)


def _dist_info():
    return "%s-%s.dist-info" % (NAME, _version())


def _record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest())
    return "%s,sha256=%s,%d" % (path, digest.rstrip(b"=").decode(),
                                len(data))


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory,
                                     config_settings=None):
    path = os.path.join(metadata_directory, _dist_info())
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "METADATA"), "w", encoding="utf-8") as f:
        f.write(_metadata())
    return _dist_info()


def build_wheel(wheel_directory, config_settings=None,
                metadata_directory=None):
    name = "%s-%s-%s.whl" % (NAME, _version(), TAG)
    info = _dist_info()
    records = []
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w",
                         zipfile.ZIP_DEFLATED) as z:
        def add(path, data):
            z.writestr(path, data)
            records.append(_record_line(path, data))
        for arc, src in _package_files():
            with open(src, "rb") as f:
                add(arc, f.read())
        add(info + "/METADATA", _metadata().encode("utf-8"))
        add(info + "/WHEEL", ("Wheel-Version: 1.0\nGenerator: mpsup_build\n"
                              "Root-Is-Purelib: true\nTag: %s\n"
                              % TAG).encode())
        records.append(info + "/RECORD,,")
        z.writestr(info + "/RECORD", "\n".join(records) + "\n")
    return name


def build_sdist(sdist_directory, config_settings=None):
    base = "%s-%s" % (NAME, _version())
    name = base + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as t:
        for rel in ["pyproject.toml", "README.md",
                    "build_backend/mpsup_build.py"] + \
                [arc for arc, _ in _package_files()]:
            t.add(os.path.join(HERE, rel), arcname=base + "/" + rel)
        pkg_info = _metadata().encode("utf-8")
        ti = tarfile.TarInfo(base + "/PKG-INFO")
        ti.size = len(pkg_info)
        import io
        t.addfile(ti, io.BytesIO(pkg_info))
    return name
