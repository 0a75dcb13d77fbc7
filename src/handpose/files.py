"""Safe file writing: atomic replacement, one clear error when the disk is full, and strict JSON reports.

Every write goes to a temporary file in the target's folder, is flushed and fsync'ed, then renamed over the target
(``os.replace`` is atomic on POSIX), and the folder is fsync'ed, so a crash or a kill leaves either the old file or
the new one, never half of one. A write that fails for lack of space (``ENOSPC``, or, where no error number is
kept, the messages that safetensors and torch's zip writer give for it) raises :class:`DiskFullError` naming the
path; any other failed write (a file over ``ulimit -f``, an I/O error) raises its own OSError, its message naming the
path too. :func:`write_list` writes a long JSON list item by item, never all of it in memory.
"""

from __future__ import annotations

import errno
import itertools
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from handpose.process_alive import alive

TMP_PREFIX = "."  # temporary files are hidden: ".<stem>.tmp-<pid>[-<serial>]<suffix>"
_SERIAL = itertools.count()
_FULL_MESSAGES = ("no space left on device", "unexpected pos", "file write failed", "disk quota exceeded")


class DiskFullError(OSError):
    """A write failed because the file system is full; the message names the file."""


NOTHING_WRITTEN = "; nothing was written there and the previous file, if any, is unchanged"  # an atomic write's


def full_disk(path: str | Path, note: str = "") -> DiskFullError:
    """The one message of a write to ``path`` that the full disk stopped, with ``note`` on what is kept."""
    return DiskFullError(f"{path}: the disk is full (no space left on device){note}")


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from or during, each once: an exception raised again (TensorBoard's
    writer raises its thread's error at every call) can close the chain in a loop."""
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and all(seen is not c for c in chain):
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    return chain


def os_error_in(exc: BaseException) -> OSError | None:
    """The first OSError with an error number in ``exc``'s chain: torch's zip writer reports a failed write as a
    RuntimeError ("unexpected pos ...") raised while the file object's own OSError was being handled."""
    return next((c for c in _chain(exc) if isinstance(c, OSError) and c.errno is not None), None)


def disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it was raised from) says the disk is full. An error number in the chain
    decides (a file over ``ulimit -f``, EFBIG, makes torch's writer say "unexpected pos" as a full disk does); the
    messages of writers that keep no error number decide only where none is there."""
    cause = os_error_in(exc)
    if cause is not None:
        return cause.errno in (errno.ENOSPC, errno.EDQUOT)
    return any(m in str(c).lower() for c in _chain(exc) for m in _FULL_MESSAGES)


def named_error(exc: OSError, path: str | Path,
                note: str = "; nothing was written there and the previous file, if any, is unchanged") -> OSError:
    """``exc`` (a write of ``path`` that failed: a file over the size limit, ``EFBIG``; an I/O error; a read-only
    file system) as the same kind of error, errno kept, whose message names ``path`` and ends with ``note`` (what
    the failure left): OSError's own message names the temporary file or, for writes to an open file, nothing
    ("[Errno 27] File too large")."""
    message = f"{path}: could not be written ({exc.strerror or exc or type(exc).__name__}){note}"
    try:
        named = type(exc)(message)
    except TypeError:  # an OSError subclass with a constructor of its own
        named = OSError(message)
    named.errno = exc.errno
    return named


def ensure_writable_folder(folder: str | Path, flag: str) -> Path:
    """Create ``folder`` if needed and prove that a file can be written in it (a probe file, removed at once), so a
    command fails before its work and not after it. Raises ValueError when ``folder`` is a file, ``OSError``
    (PermissionError, read-only file system, ...) as one line naming ``flag`` and the folder."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{flag} {folder} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f"{TMP_PREFIX}write-check.tmp-{os.getpid()}", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise type(exc)(f"{flag} {folder}: cannot write there ({exc.strerror or exc})") from exc
    return folder


def ensure_writable_file(path: str | Path, flag: str) -> Path:
    """:func:`ensure_writable_folder` for the folder of the file ``path``; ValueError when ``path`` is a folder."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{flag} {path} is a folder, not a file")
    if path.parent.exists() and not path.parent.is_dir():
        raise ValueError(f"{flag} {path}: {path.parent} is a file, not a folder")
    ensure_writable_folder(path.parent, flag)
    return path


def remove_stale_temporaries(folder: str | Path, stems: Sequence[str] = ("",)) -> list[Path]:
    """Delete the temporary files an earlier, killed writer left in ``folder`` (``.<stem>.tmp-<pid>...``) whose
    process is gone, of the stems that start with one of ``stems`` (default: all); returns what was removed."""
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for p in folder.iterdir():
        name = p.name
        if not (any(name.startswith(TMP_PREFIX + stem) for stem in stems) and ".tmp-" in name and p.is_file()):
            continue
        pid_text = name.rsplit(".tmp-", 1)[1].split(".", 1)[0].split("-", 1)[0]
        if pid_text.isdigit() and not alive(int(pid_text)):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(str(directory), os.O_RDONLY)
    except OSError:  # some filesystems do not open folders; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    """The process's umask, read without changing it where the system shows it (Linux's ``/proc/self/status``):
    setting it to 0 and back, the only way elsewhere, leaves a moment in which a file that another thread of the
    caller creates is writable by everyone."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Windows refuses to replace a file another program holds open (an image viewer showing an overlay, a player showing
# the last video) with PermissionError, where POSIX replaces it at once; such a hold is often brief (a virus scanner,
# a thumbnailer), so the rename is tried again for about 1.5 s there before the error
REPLACE_TRIES = 8 if os.name == "nt" else 1
REPLACE_FIRST_WAIT = 0.02  # seconds, doubled after each refusal


def replace_file(source: str | Path, target: str | Path) -> None:
    """``os.replace(source, target)``, tried again a few times on Windows while another program holds ``target``
    open; a PermissionError that outlasts them names ``target`` and says so."""
    wait = REPLACE_FIRST_WAIT
    for attempt in range(REPLACE_TRIES):
        try:
            os.replace(source, target)
            return
        except PermissionError as exc:
            if attempt + 1 >= REPLACE_TRIES:
                if REPLACE_TRIES > 1:
                    raise PermissionError(exc.errno, f"{target}: cannot be replaced (another program may hold it "
                                          f"open: close it and run again): {exc.strerror}") from exc
                raise
            time.sleep(wait)
            wait *= 2


def atomic_write(path: str | Path, write: Callable[[Path], None], durable: bool = True) -> Path:
    """Call ``write(tmp_path)`` then fsync and rename the temporary file onto ``path``; returns ``path``.

    The temporary file sits in the target's folder (same filesystem, so the rename is atomic) and is removed when
    ``write`` fails. ``write`` gets a path whose suffix equals the target's (some writers check suffixes).
    ``durable=False`` skips the fsyncs (many small files that can be made again, as rendered samples): the rename
    still leaves the old file or the new one whole under the name, but a power cut may lose the newest.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the process id (for remove_stale_temporaries) and a serial number: two threads never share a temporary file
    tmp = path.with_name(f"{TMP_PREFIX}{path.stem}.tmp-{os.getpid()}-{next(_SERIAL)}{path.suffix}")
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # as a plainly created file (some writers create 0600 files)
        if durable:
            with open(tmp, "rb+") as f:
                f.flush()
                os.fsync(f.fileno())
        replace_file(tmp, path)
    except BaseException as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # a read-only file system refuses even the unlink of a file that is not there (EROFS)
            pass  # the error to report is the write's; a temporary left behind goes with remove_stale_temporaries
        if disk_full(exc):
            raise full_disk(path, NOTHING_WRITTEN) from exc
        if isinstance(exc, OSError) and str(path) not in str(exc):
            raise named_error(exc, path) from exc
        cause = os_error_in(exc) if isinstance(exc, Exception) else None
        if cause is not None and not isinstance(exc, OSError):  # a writer's own error over the file's (torch's zip)
            raise named_error(cause, path) from exc
        raise
    if durable:
        _fsync_dir(path.parent)
    return path


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` through :func:`atomic_write`, the same bytes for the same ``obj`` whatever the file's name.

    Saved to an open file, not to a name: given a name, torch roots every entry of its zip in a folder named after
    the file (here the temporary one, holding the process id), so two identical checkpoints differed in their bytes;
    given a file object it names that folder ``archive``. ``torch.load`` reads either."""
    import torch

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            torch.save(obj, f)

    return atomic_write(path, write)


def json_safe(value: Any) -> Any:
    """``value`` as strict JSON data, recursively: NaN and infinities as null, numpy scalars and arrays as numbers
    and lists, paths as text (a report with a bare ``NaN`` is refused by strict JSON parsers)."""
    import math

    import numpy as np

    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) or (isinstance(value, Sequence) and not isinstance(value, (str, bytes))):
        return [json_safe(v) for v in value]  # a list, or a sequence of its own (an evaluation's Predictions)
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, Path):
        return str(value)
    return value


def json_text(value: Any, sort_keys: bool = False, indent: int | None = None) -> str:
    """``value`` (through :func:`json_safe`) as strict JSON text (``indent`` None: on one line)."""
    import json

    return json.dumps(json_safe(value), indent=indent, sort_keys=sort_keys, allow_nan=False, default=str)


def write_json(path: str | Path, value: Any, sort_keys: bool = False, indent: int | None = 1) -> Path:
    """Write ``value`` as strict JSON (:func:`json_text`), atomically; returns the path."""
    text = json_text(value, sort_keys, indent) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json_list_last(path: str | Path, value: dict[str, Any], key: str, item_text: Callable[[Any], str],
                         sort_keys: bool = False) -> Path:
    """``value`` as :func:`write_json` lays it out (one space an indent level), atomically, with its list under
    ``key`` last and written item by item, each as ``item_text`` makes it (its text at the list's depth: indented
    by two spaces after its first line), so a long list is never held whole as text. Returns the path."""
    head = json_text({k: v for k, v in value.items() if k != key}, sort_keys, indent=1)  # "{\n ...\n}"
    items = value.get(key) or []
    if not items:
        return write_list(path, head[:-2] + f',\n "{key}": []\n}}\n', [], "")
    return write_list(path, head[:-2] + f',\n "{key}": [\n  ', (item_text(v) for v in items), "\n ]\n}\n", ",\n  ")


def write_list(path: str | Path, opening: str, items: Iterable[str], closing: str, separator: str = ", ") -> Path:
    """``opening``, the ``items`` (texts) joined by ``separator``, ``closing``: written to ``path`` atomically, one
    item at a time, so a long list of records is never held whole, as texts or as one text; returns the path."""

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(opening)
            for i, item in enumerate(items):
                f.write(separator + item if i else item)
            f.write(closing)

    return atomic_write(path, write)
