"""Fixtures of the add-on tests: the add-on registered for one test, then unregistered
(under Blender 4.5 a process that exits with classes still registered can hang)."""

from pathlib import Path

import pytest

from ohgesture import ohgesture_addon as addon

FAKE = str(Path(__file__).resolve().parent / "fake_generate.py")


@pytest.fixture
def registered():
    addon.register()
    yield
    addon.unregister()
