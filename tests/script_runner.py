"""The command-line scripts, loaded from their files so tests call ``main(argv)`` in-process.

``scripts/`` is not a package (nothing installs it); each script is loaded by path, once. Its
functions are pickled by value, as those of a script run as ``__main__`` are, so that joblib's
worker processes (which cannot import a module loaded by path) can run them.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from cloudpickle import register_pickle_by_value  # what joblib pickles functions with

from tests.conftest import ROOT


def load_script(name: str) -> ModuleType:
    """The module of ``scripts/<name>.py``, loaded once and kept as ``scripts_<name>``."""
    module_name = f"scripts_{name}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, ROOT / "scripts" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
        register_pickle_by_value(module)
    return sys.modules[module_name]
