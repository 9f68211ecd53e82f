"""Run the command-line tool from an unpacked extension, whatever its folder is called.

The Blender add-on starts generation as ``PYTHON core/cli/_entry.py generate ...`` in an
interpreter that has torch; this loads the extension root as the package
``ohgesture`` first, so the same relative imports work as under pip or in Blender.
``load_package`` is the project's one such loader: the batch script, run as a plain script,
uses it too (``runpy.run_path`` of this file).
"""

import importlib.util
import sys
from pathlib import Path


def load_package() -> None:
    """Import the extension root as ``ohgesture`` (nothing when it is imported already)."""
    if "ohgesture" in sys.modules:
        return
    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location(
        "ohgesture", root / "__init__.py", submodule_search_locations=[str(root)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["ohgesture"] = module
    spec.loader.exec_module(module)


if __name__ == "__main__":
    load_package()
    from ohgesture.core.cli.main import main

    sys.exit(main())
