"""The wheel that `pip install bindings/python` builds: tagged for the platform and not pure,
holding the release library (never the debug one, never a stale copy), and no wheel at all when
the library cannot be built.

Each test builds into a temporary folder with `pip wheel --no-deps --no-build-isolation` (the
build uses this Python's setuptools, and wheel before setuptools 70.1: no network). The wheel
build runs `cargo build --release --lib`: about 2 minutes the first time on two cores, a few
seconds once the release library is built.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path
from typing import List

from conftest import REPO

PACKAGE = REPO / "bindings" / "python"
RELEASE_LIB = REPO / "target" / "release" / "liboairun.so"
DEBUG_LIB = REPO / "target" / "debug" / "liboairun.so"


def pip_wheel(out: Path, **env: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
               "--disable-pip-version-check", "-v", "-w", str(out), str(PACKAGE)]
    return subprocess.run(command, capture_output=True, text=True, timeout=900,
                          env={**os.environ, **env})


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def leave_stale_libraries() -> List[Path]:
    """Libraries an earlier build could have left in the build folder, where setuptools puts
    a pure build and a platform build of this Python."""
    plat = f"lib.{sysconfig.get_platform()}-{sys.implementation.cache_tag}"
    paths = [PACKAGE / "build" / d / "oairun" / "liboairun.so" for d in ("lib", plat)]
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"a stale library from an earlier build")
    return paths


def test_wheel_is_tagged_for_the_platform_and_holds_the_release_library(tmp_path: Path) -> None:
    stale = leave_stale_libraries()
    try:
        built = pip_wheel(tmp_path)
    finally:
        for path in stale:
            path.unlink(missing_ok=True)
    assert built.returncode == 0, built.stdout + built.stderr

    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    wheels = list(tmp_path.glob("*.whl"))
    assert [w.name for w in wheels] == [f"oairun-0.1.0-py3-none-{platform}.whl"]
    with zipfile.ZipFile(wheels[0]) as wheel:
        metadata = wheel.read("oairun-0.1.0.dist-info/WHEEL").decode()
        packed = wheel.read("oairun/liboairun.so")
        names = wheel.namelist()
    assert "Root-Is-Purelib: false" in metadata
    assert f"Tag: py3-none-{platform}" in metadata
    assert "oairun/__init__.py" in names and "oairun/_ffi.py" in names
    assert [n for n in names if n.endswith(".so")] == ["oairun/liboairun.so"]

    # The release library as cargo left it, byte for byte: not the stale copies, not debug.
    assert sha256(packed) == sha256(RELEASE_LIB.read_bytes())
    if DEBUG_LIB.is_file():
        assert sha256(packed) != sha256(DEBUG_LIB.read_bytes())


def test_no_wheel_when_the_library_cannot_be_built(tmp_path: Path) -> None:
    built = pip_wheel(tmp_path, CARGO="false")
    output = built.stdout + built.stderr
    assert built.returncode != 0, output
    assert "`cargo build --release --lib` failed" in output
    assert not list(tmp_path.glob("*.whl"))
