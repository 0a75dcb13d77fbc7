"""A command whose reader goes away part way (`handpose predict photos/ | head -1`, a pager quit early) finishes
its work: predict stopped after two images of a folder with "error: [Errno 32] Broken pipe" and wrote no COCO
files. A real process writes into a real pipe whose reading end is closed after the first line."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from handpose.closed_output import QuietWhenClosed

HANDS = Path(__file__).resolve().parent / "data" / "pretrained_check" / "hands"


@pytest.mark.slow
@pytest.mark.parametrize("also_stderr", [False, True])
def test_predict_finishes_a_folder_when_its_reader_has_gone(tmp_path: Path, also_stderr: bool) -> None:
    images = tmp_path / "images"
    images.mkdir()
    for jpg in sorted(HANDS.rglob("*.jpg"))[:6]:
        shutil.copy(jpg, images / jpg.name)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "handpose", "predict", str(images), "--out", str(out),
                             "--maps", "none"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT if also_stderr else subprocess.PIPE, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # the reader goes, as `head -1` does
    err = proc.stderr.read() if proc.stderr is not None else ""
    assert proc.wait(timeout=300) == 0, err
    assert first.strip() and "Broken pipe" not in err and "Traceback" not in err
    assert len(json.loads((out / "coco_images.json").read_text())["images"]) == 6  # every image, the COCO files
    assert isinstance(json.loads((out / "coco_results.json").read_text()), list)
    assert len(list(out.glob("*_overlay.png"))) == 6


class _Pipe(io.StringIO):
    """A stream whose every write fails with ``error``."""

    def __init__(self, error: OSError) -> None:
        super().__init__()
        self.error = error

    def write(self, text: str) -> int:
        raise self.error

    def fileno(self) -> int:
        raise io.UnsupportedOperation("no descriptor")


def test_only_a_gone_reader_is_quieted() -> None:
    gone = QuietWhenClosed(_Pipe(BrokenPipeError(32, "Broken pipe")))
    assert gone.write("a line\n") == 7 and gone.reader_gone
    assert gone.write("more\n") == 5  # dropped from now on
    full = QuietWhenClosed(_Pipe(OSError(28, "No space left on device")))
    with pytest.raises(OSError, match="No space left"):
        full.write("a line\n")  # a full disk under a redirected output is still an error
    assert not full.reader_gone
