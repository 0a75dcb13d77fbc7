"""Pick the fastest sound speed setting (precision x memory layout) by measuring it, and remember the answer.

A :class:`Choice` is one candidate: a precision (``fp32``; ``bf16`` / ``fp16`` autocast; ``tf32``: fp32 with TF32 tensor
cores, CUDA only) and the channels-last layout or not. :func:`choose` looks the :class:`TrialKey` (device, CPU model
with its instruction sets or GPU model, torch version, threads, preset, input size, batch, train or infer) up in the
JSON cache ``<cache>/autotune.json`` (``training.data.cache_root``, default ``~/.cache/handpose``); what is missing
there it measures with the injected ``measure`` function, keeps the fastest candidate whose numbers are sound, writes
the cache and logs the choice with every measured ratio in one line. A CPU trial during which other processes used
more than ``contention.BUSY_SHARE`` of the CPUs is not cached (with a warning): it serves the process that timed it
alone (:func:`keep_results`), whose later trials of the key take it, and a later process times again.
Explicit flags narrow the candidates (``--no-amp`` keeps the fp32 ones, ``--channels-last`` the channels-last ones);
both given means no trial at all.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import platform
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from handpose.autotune.contention import start_meter, unsteady

LOG = logging.getLogger(__name__)

CACHE_FILE = "autotune.json"
CACHE_VERSION = 1
MAX_KEYPOINT_SHIFT_PX = 0.5  # mean decoded-keypoint move vs fp32 that an inference candidate may cause
MAX_LOSS_CHANGE = 0.05  # relative change of the first training step's loss vs fp32 a candidate may cause


@dataclass(frozen=True)
class Choice:
    """One speed setting: ``precision`` in fp32 / tf32 / bf16 / fp16 and the channels-last layout."""

    precision: str = "fp32"
    channels_last: bool = False

    @property
    def name(self) -> str:
        """``fp32``, ``fp32+cl``, ``bf16``, ``bf16+cl``, ..."""
        return self.precision + ("+cl" if self.channels_last else "")

    @property
    def amp(self) -> bool:
        """Whether this is autocast to a 16-bit float (what ``--amp`` turns on)."""
        return self.precision in ("bf16", "fp16")


@dataclass(frozen=True)
class TrialKey:
    """What a measurement holds for: a new value of any field means a new trial."""

    device: str  # "cpu" or "cuda"
    hardware: str  # the CPU's model name and instruction sets (cpu_identity), or the GPU's name
    torch: str
    threads: int  # torch's CPU threads (0 on CUDA)
    preset: str
    input_size: int
    batch_size: int
    mode: str  # "train" (forward + backward + optimizer step) or "infer" (forward only)

    def text(self) -> str:
        """The cache's key: every field, '|'-separated."""
        return "|".join(str(v) for v in asdict(self).values())


@dataclass
class Trial:
    """One candidate's measurement: seconds per step (median) and what its soundness is judged on."""

    seconds: float
    finite: bool = True
    batch: int = 1  # samples per timed step
    loss: float | None = None  # train: the first step's loss (same weights and batch for every candidate)
    keypoints: np.ndarray | None = None  # infer: (N, 21, 2) decoded keypoints in crop px of the trial input
    failed: str | None = None  # why the candidate could not run (OUT_OF_MEMORY, "cannot run: ..."); None: it ran


Measure = Callable[[Sequence[Choice]], dict[Choice, Trial]]
OUT_OF_MEMORY = "out of memory"  # Trial.failed of a candidate that ran out of device memory


# The instruction sets that decide which precision and layout is fastest: machines sold under one model name
# ("AMD EPYC" on cloud VMs) differ in them, e.g. with AVX512-BF16 bf16 trained 1.9x fp32's speed, without AVX-512
# 0.05x (BENCHMARKS.md), so a cached choice must not cross from one to the other.
SPEED_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "avx512_vnni", "avx_vnni", "amx_bf16", "amx_fp16",
               "amx_tile", "asimd", "sve", "bf16")


def _cpuinfo() -> str:
    """The text of /proc/cpuinfo ("" where there is none)."""
    try:
        return Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def cpu_identity(cpuinfo: str | None = None) -> str:
    """The CPU's model name as lscpu shows it (from ``cpuinfo``, default /proc/cpuinfo's text), else
    ``platform.processor()``, followed in brackets by those of its instruction sets that are in ``SPEED_FLAGS``
    (in that order), where the text lists flags: ``AMD EPYC [avx2 avx512f avx512_bf16 avx512_vnni]``."""
    text = _cpuinfo() if cpuinfo is None else cpuinfo
    name, flags = "", None
    for line in text.splitlines():
        field, _, value = line.partition(":")
        field = field.strip().lower()
        if field == "model name" and not name:
            name = value.strip()
        elif field in ("flags", "features") and flags is None:
            have = set(value.split())
            flags = " ".join(f for f in SPEED_FLAGS if f in have)
    name = name or platform.processor() or platform.machine() or "unknown"
    return f"{name} [{flags}]" if flags else name


def trial_key(device: Any, preset: str, input_size: int, batch_size: int, mode: str) -> TrialKey:
    """The key of a trial of ``preset`` at ``input_size`` x ``batch_size`` on ``device`` (a torch.device or str)."""
    import torch

    dev = torch.device(device)
    if dev.type == "cuda":
        hardware, threads = torch.cuda.get_device_name(dev), 0
    else:
        hardware, threads = cpu_identity(), torch.get_num_threads()
    return TrialKey(dev.type, hardware, torch.__version__, threads, preset, int(input_size), int(batch_size), mode)


def candidates(device_type: str, mode: str, amp: bool | None = None, channels_last: bool | None = None) -> list[Choice]:
    """The settings worth trying on ``device_type`` for ``mode``, narrowed by the flags given (None: auto).

    CPU: fp32 and bf16, each in both layouts. CUDA inference: fp32 (TF32 off), tf32, bf16 and fp16. CUDA training:
    tf32 (what the trainer's fp32 is: PyTorch runs cuDNN convolutions in TF32 by default) and bf16; fp16 training
    needs loss scaling, which the trainer does not do. The first candidate is the reference the others are judged
    against.
    """
    if device_type == "cuda":
        precisions = ["fp32", "tf32", "bf16", "fp16"] if mode == "infer" else ["tf32", "bf16"]
    else:
        precisions = ["fp32", "bf16"]
    if amp is not None:
        precisions = [p for p in precisions if (p in ("bf16", "fp16")) == amp]
    layouts = [False, True] if channels_last is None else [channels_last]
    return [Choice(p, cl) for p in precisions for cl in layouts]


def cache_path() -> Path | None:
    """``autotune.json`` in the cache folder (``training.data.cache_root``: ``$HANDPOSE_CACHE``, else
    ``$XDG_CACHE_HOME/handpose``, else ``~/.cache/handpose``); None, with one warning, where there is no cache
    folder (no home folder to be found): trials then run every time instead of stopping the command."""
    from handpose.training.data import NoCacheFolderError, cache_root

    try:
        return cache_root() / CACHE_FILE
    except NoCacheFolderError as exc:
        _warn_no_cache(str(exc))
        return None


@functools.cache
def _warn_no_cache(why: str) -> None:
    LOG.warning("autotune: %s; speed trials are not cached and run again every time", why)


def read_cache(path: Path | None) -> dict[str, Any]:
    """The cache's entries (key text -> entry); empty when the file is missing, unreadable or of another version,
    or there is no cache (``path`` None)."""
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION or not isinstance(data.get("entries"), dict):
        return {}
    return data["entries"]


def write_cache(path: Path | None, key: TrialKey, results: dict[str, dict[str, Any]], trial_s: float) -> None:
    """Merge one key's results into the cache file (atomic replace; other keys are kept); nothing without a cache
    (``path`` None)."""
    from handpose.files import atomic_write

    if path is None:
        return
    entries = read_cache(path)
    entries[key.text()] = {
        "key": asdict(key),
        "measured": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "trial_seconds": round(trial_s, 2),
        "results": results,
    }
    text = json.dumps({"version": CACHE_VERSION, "entries": entries}, indent=1, sort_keys=True) + "\n"
    try:
        atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    except OSError as exc:  # a read-only home should not stop a run; it only re-measures next time
        LOG.warning("autotune: cannot write the cache %s (%s); the trial will run again next time", path, exc)


def judge(trials: dict[Choice, Trial], reference: Choice) -> dict[str, dict[str, Any]]:
    """Per candidate name: samples/s, sound or not, and why not; judged against ``reference``'s numbers (where the
    reference could not run, as on a GPU too small for it, the others on their own: finite, and running)."""
    ref = trials.get(reference)
    out: dict[str, dict[str, Any]] = {}
    for choice, t in trials.items():
        why = ""
        if t.failed:
            why = t.failed
        elif not t.finite or not math.isfinite(t.seconds) or t.seconds <= 0:
            why = "non-finite output"
        elif ref is not None and choice != reference:
            if t.keypoints is not None and ref.keypoints is not None:
                shift = float(np.linalg.norm(t.keypoints - ref.keypoints, axis=-1).mean())
                if not shift < MAX_KEYPOINT_SHIFT_PX:
                    why = f"keypoints moved {shift:.2f} px vs {reference.name}"
            if t.loss is not None and ref.loss is not None:
                change = abs(t.loss - ref.loss) / max(abs(ref.loss), 1e-12)
                if not change < MAX_LOSS_CHANGE:
                    why = f"loss {change:.1%} off {reference.name}'s"
        rate = t.batch / t.seconds if t.seconds > 0 and math.isfinite(t.seconds) else 0.0
        out[choice.name] = {"samples_per_s": round(rate, 3), "sound": not why, **({"why": why} if why else {})}
    return out


_PROCESS_ENTRIES: dict[tuple[str, str], dict[str, Any]] = {}  # (cache file, key text) -> an entry kept out of it


def cached_entry(path: Path | None, key: TrialKey) -> Any:
    """The cache's entry for ``key``, else the one :func:`keep_results` held for this process (a trial timed while
    other processes were busy), else None."""
    entry = read_cache(path).get(key.text())
    return entry if entry is not None else _PROCESS_ENTRIES.get((str(path), key.text()))


def keep_results(path: Path | None, key: TrialKey, results: dict[str, dict[str, Any]], trial_s: float,
                 steady: bool) -> None:
    """A trial's results: written to the cache file when ``steady``; otherwise (other processes kept the CPUs busy)
    held for this process alone, so that its later loads take them instead of timing again on the busy machine
    (a later process times again)."""
    if steady:
        write_cache(path, key, results, trial_s)
    else:
        _PROCESS_ENTRIES[(str(path), key.text())] = {
            "key": asdict(key), "measured": time.strftime("%Y-%m-%dT%H:%M:%S") + ", in this process (not cached: "
            "other processes were busy)", "trial_seconds": round(trial_s, 2), "results": results}


def choose(
    key: TrialKey,
    measure: Measure | None,
    amp: bool | None = None,
    channels_last: bool | None = None,
    path: Path | None = None,
) -> Choice | None:
    """The fastest sound candidate for ``key`` (see the module docstring); ``amp`` / ``channels_last`` are the
    explicit flags (None: auto). Measures only when the cache lacks an allowed candidate; with ``measure`` None
    (a torchrun process, which must not measure apart from its peers) returns None then instead."""
    allowed = candidates(key.device, key.mode, amp, channels_last)
    if len(allowed) == 1:
        return allowed[0]
    path = path or cache_path()
    reference = candidates(key.device, key.mode)[0]  # plain fp32: the others are judged against its outputs
    results, trial_s = cached_results(cached_entry(path, key), reference.name, path)
    missing = [c for c in allowed if c.name not in results]
    if missing:
        if measure is None:
            return None
        t0 = time.perf_counter()
        others = start_meter() if key.device == "cpu" else None
        trials = measure(list(dict.fromkeys([reference, *missing])))
        share = others() if others is not None else None
        trial_s += time.perf_counter() - t0
        results.update(judge(trials, reference))
        stored = not unsteady(share, f"{key.mode} speed", path)
        keep_results(path, key, results, trial_s, stored)  # out-of-memory verdicts are dropped as they are read
    best = _fastest(allowed, results)
    LOG.info("%s", summary_line(key, best, allowed, results, not missing, trial_s, path if not missing or stored
                                else None))
    return best


def cached_results(entry: Any, reference: str, path: Path | None) -> tuple[dict[str, dict[str, Any]], float]:
    """(the verdicts of one cache entry that still hold, its trial seconds). Dropped, to be measured again: a verdict
    that is not a dict of a finite ``samples_per_s`` and a bool ``sound`` (a damaged file, a layout of another
    version), and one of ``out of memory``, this moment's verdict (another job may have held the device), unlike one
    the device cannot run at all ("cannot run: ..."), which holds for good. Where the ``reference`` candidate's
    verdict is missing or dropped, every verdict of the entry goes: the others were judged without its numbers, so
    "sound" said only that their output was finite. One log line says what is measured again."""
    if not isinstance(entry, dict):
        return {}, 0.0
    trial_s = entry.get("trial_seconds", 0.0)
    trial_s = float(trial_s) if isinstance(trial_s, (int, float)) and math.isfinite(trial_s) else 0.0
    stored = entry.get("results")
    stored = stored if isinstance(stored, dict) else {}
    kept = {name: r for name, r in stored.items()
            if isinstance(r, dict) and isinstance(r.get("sound"), bool) and r.get("why") != OUT_OF_MEMORY
            and isinstance(r.get("samples_per_s"), (int, float)) and math.isfinite(r["samples_per_s"])}
    if reference not in kept:
        kept = {}
    if len(kept) < len(stored):
        dropped = sorted(set(stored) - set(kept))
        LOG.info("autotune: %s in %s: %s measured again (unreadable, out of memory, or judged without %s's "
                 "numbers)", ", ".join(dropped), path or "the cache", "they are" if len(dropped) > 1 else "it is",
                 reference)
    return kept, trial_s


def _fastest(allowed: Iterable[Choice], results: dict[str, dict[str, Any]]) -> Choice:
    """The allowed candidate of the highest rate among the sound ones (the first allowed one when none is)."""
    allowed = list(allowed)
    sound = [c for c in allowed if results.get(c.name, {}).get("sound")]
    if not sound:
        return allowed[0]
    return max(sound, key=lambda c: float(results[c.name]["samples_per_s"]))


def summary_line(
    key: TrialKey, best: Choice, allowed: Sequence[Choice], results: dict[str, dict[str, Any]], cached: bool,
    trial_s: float, path: Path | None,
) -> str:
    """The one log line: the choice, each allowed candidate's rate as a ratio to fp32's, rejections, and the cache it
    came from or went into (``path``; None: a trial not cached, as on a busy machine or without a cache folder)."""
    def rate(name: str) -> float:
        return float(results.get(name, {}).get("samples_per_s") or 0.0)

    ref = rate("fp32") or rate(allowed[0].name) or 1.0
    parts = []
    for c in allowed:
        r = results.get(c.name, {})
        parts.append(f"{c.name} {rate(c.name) / ref:.2f}x" + ("" if r.get("sound") else f" (rejected: {r.get('why')})"))
    how = "cached" if cached else f"measured in {trial_s:.1f} s"
    return (f"autotune {key.mode} {key.preset} {key.input_size}px batch {key.batch_size} on {key.device} "
            f"({key.hardware}, {key.threads} threads): {best.name} at {rate(best.name):.1f} samples/s; vs fp32: "
            f"{', '.join(parts)}; {how} ({path or 'not cached'})")


def distributed_peer() -> bool:
    """Whether this process is one of several torchrun processes (they must not measure apart and disagree)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1
