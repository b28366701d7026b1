"""numba's cache of the kernels lives outside the package."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from streamgd.optim.jitcache import cache_folder

pytest.importorskip("numba")

ROOT = Path(__file__).resolve().parents[2]


def test_cache_folder_follows_numba_then_xdg(monkeypatch, tmp_path):
    """NUMBA_CACHE_DIR wins; else $XDG_CACHE_HOME/streamgd/numba; else ~/.cache."""
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))
    assert cache_folder() == tmp_path / "numba"
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_folder() == tmp_path / "xdg" / "streamgd" / "numba"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_folder() == tmp_path / "home" / ".cache" / "streamgd" / "numba"


def test_compiled_kernel_is_cached_in_the_cache_folder(tmp_path):
    """A process that compiles a kernel writes its cache files under
    $XDG_CACHE_HOME/streamgd/numba, none next to the package's sources."""
    code = (
        "import numpy as np\n"
        "from streamgd.optim import kernels\n"
        "kernels._penalty_value(np.ones(3), 0.5, 0.1)\n"
    )
    environment = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    environment["XDG_CACHE_HOME"] = str(tmp_path)
    package_cache = ROOT / "streamgd" / "optim" / "__pycache__"
    before = set(package_cache.glob("kernels.*")) if package_cache.exists() else set()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment,
                   check=True, timeout=120)
    written = list((tmp_path / "streamgd" / "numba").rglob("kernels._penalty_value*"))
    assert any(path.suffix == ".nbi" for path in written)
    after = set(package_cache.glob("kernels.*")) if package_cache.exists() else set()
    assert after == before
