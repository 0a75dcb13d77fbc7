"""Shared test fixtures: the real sample photographs in ../shared/realdata (skipped when absent)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"


@pytest.fixture(scope="session")
def realdata() -> Path:
    """The folder of real annotated hand photographs; tests using it skip where it is absent."""
    if not REALDATA.is_dir():
        pytest.skip(f"real sample data not found at {REALDATA}")
    return REALDATA


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Point $HANDPOSE_CACHE (rendered datasets, autotune.json) at a folder of this test session, never the user's."""
    mp = pytest.MonkeyPatch()
    mp.setenv("HANDPOSE_CACHE", str(tmp_path_factory.mktemp("handpose-cache")))
    yield
    mp.undo()
