"""JSON reading for the readers: one file with its failures as skip reasons, a large dataset json parsed once
(detection hands its parse to the reader in a :class:`ParsedJson`), and many small files on a process pool."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from handpose.data import skip_report as R
from handpose.data.formats.checks import BadAnnotationError
from handpose.regular_files import NotRegularFileError, read_regular

LOG = logging.getLogger(__name__)

CHUNK = 2048  # json files per task
POOL_MIN_FILES = 20_000  # fewer files are read in this process (a pool costs ~0.5 s to start)


def load_json(path: Path | str) -> Any:
    """The parsed file; BadAnnotationError(MISSING_JSON or BAD_JSON) when it cannot be read or parsed."""
    try:
        return json.loads(read_regular(path))
    except FileNotFoundError:
        raise BadAnnotationError(R.MISSING_JSON) from None
    except NotRegularFileError as e:  # a FIFO would block, a device never end
        raise BadAnnotationError(R.BAD_JSON, str(e)) from None
    except (OSError, ValueError) as e:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise BadAnnotationError(R.BAD_JSON, f"{type(e).__name__}: {e}"[:160]) from None
    except RecursionError:  # e.g. "[" * 100000: json's C parser gives up at Python's recursion limit
        raise BadAnnotationError(R.BAD_JSON, "nested too deeply") from None


def _file_id(path: Path | str) -> tuple[str, int, int]:
    st = os.stat(path)
    return str(path), st.st_mtime_ns, st.st_size


@dataclass
class ParsedJson:
    """A dataset-level json that format detection parsed whole, handed to its reader so a large file is parsed
    once. It is used only while the file is unchanged (same path, mtime and size)."""

    file_id: tuple[str, int, int]
    obj: Any

    @classmethod
    def of(cls, path: Path, obj: Any) -> ParsedJson:
        return cls(_file_id(path), obj)

    def matches(self, path: Path) -> bool:
        try:
            return _file_id(path) == self.file_id
        except OSError:
            return False


def load_json_once(path: Path, parsed: ParsedJson | None) -> Any:
    """A dataset-level json: the parse detection already did when it is this file, else read now."""
    if parsed is not None and parsed.matches(path):
        return parsed.obj
    return load_json(path)


def map_chunks(fn: Callable[[list[str]], Any], items: list[str], workers: int) -> list[Any]:
    """[fn(chunk) for chunk in chunks of items], on a process pool when there are many items and workers > 1.

    JSON decoding holds the GIL, so threads do not help; processes do (each returns compact numpy arrays).
    """
    chunks = [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]
    if workers > 1 and len(items) >= POOL_MIN_FILES:
        try:
            with ProcessPoolExecutor(max_workers=min(workers, len(chunks)), mp_context=pool_context()) as pool:
                return list(pool.map(fn, chunks))
        except (OSError, ValueError, RuntimeError, BrokenProcessPool) as e:
            LOG.warning("reading json files in %d processes failed (%s); reading them in this process", workers, e)
    return [fn(c) for c in chunks]


def pool_context() -> multiprocessing.context.BaseContext:
    """How the json-reading processes start: fork where the system offers it safely (Linux: nothing is re-imported
    and the caller's script is not re-run), spawn elsewhere: Windows has no fork, and on macOS a forked child of a
    process whose system frameworks started threads may crash (Python's own default there is spawn). Spawned workers
    import the reader afresh, and a script that calls the readers needs an ``if __name__ == "__main__"`` guard;
    without one the pool fails and the files are read in this process (a warning)."""
    fork = sys.platform != "darwin" and "fork" in multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if fork else "spawn")


def default_workers() -> int:
    """Processes for json reading: the CPUs this process may use (at most 8); 1 below 4 CPUs, where a pool did not
    pay on the 2-core development machine (benchmarks/bench_data.py)."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    return 1 if n < 4 else min(8, n)
