"""Packs the built liboairun.so beside the package when there is one.

`pip install bindings/python` after `cargo build` then gives a package that finds its library
with no OAIRUN_LIBRARY: "beside the package" is the second place the loader looks.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

REPO = Path(__file__).resolve().parents[2]


class build_py_with_library(build_py):
    def run(self) -> None:
        super().run()
        built = [REPO / "target" / p / "liboairun.so" for p in ("release", "debug")]
        built = [p for p in built if p.is_file()]
        if built:
            newest = max(built, key=lambda p: p.stat().st_mtime)
            target = Path(self.build_lib) / "oairun" / "liboairun.so"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(newest, target)
            print(f"oairun: packed {newest}")
        else:
            print("oairun: no built liboairun.so found; set OAIRUN_LIBRARY at run time")


setup(cmdclass={"build_py": build_py_with_library})
