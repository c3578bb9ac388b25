"""Packs the release liboairun.so beside the package, building it first.

`pip install bindings/python` (or `pip wheel`) runs `cargo build --release --lib` in the
repository, which builds the library when it is missing or older than its sources and does
nothing otherwise, then packs target/release/liboairun.so: the release build only, never the
debug one. Without cargo, a release library newer than every source file is packed as it is.
The install fails, saying what to run, when the library cannot be built or may be stale; it
never succeeds without a library. OAIRUN_PREBUILT_LIB=/path/to/liboairun.so packs that file instead
(e.g. one built for an older glibc with cargo-zigbuild) and runs no cargo.

The wheel holds a native library, so it is tagged for the platform (py3-none-linux_x86_64) and
is not pure; it works with every Python 3, as ctypes loads the library.
"""

import os
import shutil
import subprocess
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

try:  # setuptools >= 70.1 has its own
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # older setuptools: the wheel package's
    from wheel.bdist_wheel import bdist_wheel

REPO = Path(__file__).resolve().parents[2]
RELEASE_LIB = REPO / "target" / "release" / "liboairun.so"
# What the library is built from (cargo's own check is finer; this is for when cargo is absent).
SOURCES = ["Cargo.toml", "Cargo.lock", "build.rs", "cbindgen.toml", "src"]


class LibraryBuildError(SystemExit):
    """Stops the build with a message naming the step to run."""

    def __init__(self, message: str) -> None:
        super().__init__(f"oairun: {message}")


def release_library() -> Path:
    """The library to pack: $OAIRUN_PREBUILT_LIB, else the release build, built or updated now."""
    prebuilt = os.environ.get("OAIRUN_PREBUILT_LIB")
    if prebuilt:
        if not Path(prebuilt).is_file():
            raise LibraryBuildError(f"OAIRUN_PREBUILT_LIB is {prebuilt}, which is not a file")
        return Path(prebuilt)
    if not (REPO / "Cargo.toml").is_file():
        raise LibraryBuildError(
            f"no Cargo.toml in {REPO}: build the wheel from the oairun repository "
            "(pip install bindings/python), or set OAIRUN_PREBUILT_LIB to a built liboairun.so"
        )
    cargo = os.environ.get("CARGO", "cargo")
    command = [cargo, "build", "--release", "--lib"]
    print(f"oairun: running {' '.join(command)} in {REPO}", flush=True)
    try:
        subprocess.run(command, cwd=REPO, check=True)
    except FileNotFoundError:
        if is_current(RELEASE_LIB):
            print(f"oairun: {cargo} not found; {RELEASE_LIB} is newer than its sources", flush=True)
            return RELEASE_LIB
        state = "is older than its sources" if RELEASE_LIB.is_file() else "is not built"
        raise LibraryBuildError(
            f"{RELEASE_LIB} {state} and {cargo} was not found: run `cargo build --release --lib` "
            f"in {REPO} (Rust: https://rustup.rs), then install again"
        ) from None
    except subprocess.CalledProcessError as e:
        raise LibraryBuildError(
            f"`cargo build --release --lib` failed in {REPO} (exit {e.returncode}); "
            "fix the build, then install again"
        ) from None
    if not RELEASE_LIB.is_file():
        raise LibraryBuildError(f"cargo built no {RELEASE_LIB}")
    return RELEASE_LIB


def is_current(library: Path) -> bool:
    """Whether library exists and is newer than every source file it is built from."""
    if not library.is_file():
        return False
    built = library.stat().st_mtime
    for name in SOURCES:
        path = REPO / name
        files = path.rglob("*") if path.is_dir() else [path]
        if any(f.is_file() and f.stat().st_mtime > built for f in files):
            return False
    return True


class build_py_with_library(build_py):
    def run(self) -> None:
        # Start from an empty build folder: a library or module left by an earlier build (or
        # by a build from another checkout) is never packed.
        shutil.rmtree(self.build_lib, ignore_errors=True)
        super().run()
        library = release_library()
        target = Path(self.build_lib) / "oairun" / "liboairun.so"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(library, target)
        print(f"oairun: packed {library}", flush=True)


class platform_wheel(bdist_wheel):
    """py3-none-<platform>: any Python 3, this platform (the library is native code)."""

    def finalize_options(self) -> None:
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        _, _, platform = super().get_tag()
        return "py3", "none", platform


class NativeDistribution(Distribution):
    """Installs into platlib, as a package with native code does."""

    def has_ext_modules(self) -> bool:
        return True


setup(
    cmdclass={"build_py": build_py_with_library, "bdist_wheel": platform_wheel},
    distclass=NativeDistribution,
)
