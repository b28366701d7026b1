"""Where numba keeps streamgd's compiled kernels between runs.

Left to itself, numba caches a function next to its source file when that
folder is writable, so an installed or checked-out streamgd grew
`streamgd/optim/__pycache__/*.nbi|*.nbc` files inside the package. Here the
cache goes to `NUMBA_CACHE_DIR` when it is set (numba's own setting), else to
the user's cache folder: `$XDG_CACHE_HOME/streamgd/numba`, by default
`~/.cache/streamgd/numba`. Only streamgd's functions are affected; other numba
users in the process keep numba's rules.

numba has no public way to choose one function's cache folder; this plugs a
locator into its caching classes (`numba.core.caching`, stable since numba
0.49). Should those change, or the folder not be writable, the kernels are
compiled once per process instead (about 2 s), and nothing is written.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def cache_folder() -> Path:
    """The folder for streamgd's compiled kernels (see the module docstring)."""
    configured = os.environ.get("NUMBA_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "streamgd" / "numba"


def cached_njit(numba: Any, function: Callable, **options: Any) -> Any:
    """`numba.njit(**options)(function)`, cached in `cache_folder()` if possible."""
    dispatcher = numba.njit(cache=False, **options)(function)
    cache_class = _cache_class()
    if cache_class is None:
        return dispatcher
    try:
        # what numba's own `enable_caching` does, with our locator
        dispatcher._cache = cache_class(function)
    except (RuntimeError, OSError, TypeError) as error:
        log.debug("kernels not cached (%s): compiled once per process", error)
    return dispatcher


def _cache_class() -> type | None:
    """A numba FunctionCache that stores in `cache_folder()`; None if numba's
    caching classes are not the expected ones."""
    try:
        from numba.core import caching
        base_locator = caching._SourceFileBackedLocatorMixin
        locator_base = caching._CacheLocator
        impl_base = caching.CompileResultCacheImpl
        cache_base = caching.FunctionCache
    except (ImportError, AttributeError):
        return None

    class FolderLocator(base_locator, locator_base):
        """Cache files of a streamgd source file, in `cache_folder()`."""

        def __init__(self, py_func: Callable, py_file: str) -> None:
            self._py_file = py_file
            self._lineno = py_func.__code__.co_firstlineno
            subpath = self.get_suitable_cache_subpath(py_file)
            self._cache_path = str(cache_folder() / subpath)

        def get_cache_path(self) -> str:
            return self._cache_path

        @classmethod
        def from_function(cls, py_func: Callable, py_file: str) -> Any:
            if not os.path.exists(py_file):
                return None
            locator = cls(py_func, py_file)
            try:
                locator.ensure_cache_path()
            except OSError:
                return None
            return locator

    class FolderImpl(impl_base):
        _locator_classes = [FolderLocator]

    class FolderCache(cache_base):
        _impl_class = FolderImpl

    return FolderCache
