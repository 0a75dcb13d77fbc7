"""Whether the hands an evaluation holds out were held out when the model trained: the hash split puts a hand on
the validation side when its key's hash falls under the fraction (``data/split``), so a model trained with a smaller
``--val-fraction`` than the evaluation's trained on the hands between the two, and scores them as if unseen. Each
weights file records the fraction it trained with (its data config); the evaluation counts the hands it holds out
that such a run trained on, and warns (the fraction alone does not say whether the run trained on this dataset).
Weights also record the datasets they trained on (``data.dataset_ids``): scoring the part of one of those that
holds its training hands (``--split all`` or ``train``) is warned about too. The shipped models
(``pretrained:NAME``) trained on handpose's renders alone (MODEL_CARD.md), never on a user's dataset, so they are
not warned about."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from handpose.data.formats.load import Splits
from handpose.data.sample import Sample
from handpose.data.split import image_key, is_val

LOG = logging.getLogger(__name__)


def stored_split(weights: str | Path) -> tuple[float | None, int | None]:
    """(``--val-fraction``, split rule) that a model file records of the run that trained it: its data config's
    fraction, and the ``TrainConfig.split_rule`` that detector weights and checkpoints record
    (``artifact.SPLIT_RULE_KEY``); None for what it does not record (a foreign file; the ONNX export of converted
    weights or of a shipped model records no fraction, a detector's ONNX export neither; detector weights written
    before 2026-12-07 record no rule)."""
    data, rule, _ = _recorded(weights)
    return _number(data.get("val_fraction") if isinstance(data, dict) else None, float), _number(rule, int)


def _recorded(weights: str | Path) -> tuple[Any, Any, Any]:
    """(data config, split rule, training datasets) as a model file records them (checkpoint dict, safetensors
    or ONNX metadata), each None where it records none; read once for :func:`stored_split` and
    :func:`stored_train_sets`."""
    from handpose import pretrained

    path = Path(pretrained.resolve(weights))
    try:
        stat = path.stat()
        key: tuple | None = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    except OSError:
        key = None
    if key is not None and _LAST[0] == key:  # the warnings of one evaluation read one file up to three times: a
        return _LAST[1]  # training checkpoint (optimizer state included) is loaded once
    found = _read_recorded(path)
    if key is not None:
        _LAST[:] = [key, found]
    return found


_LAST: list[Any] = [None, None]  # (path, mtime, size) of the file :func:`_recorded` read last, and what it found


def _read_recorded(path: Path) -> tuple[Any, Any, Any]:
    """:func:`_recorded` of the resolved ``path``, read from the file."""
    from handpose.model import artifact

    kind = artifact.model_file_kind(path)
    if kind == "checkpoint":
        state = artifact.torch_load(path, "a weights-only checkpoint")
        state = state if isinstance(state, dict) else {}
        run = state.get("train_config") if isinstance(state.get("train_config"), dict) else {}
        return artifact.stored_data_value(state), run.get(artifact.SPLIT_RULE_KEY), state.get(artifact.TRAIN_SETS_KEY)
    meta = artifact.read_onnx_metadata(path) if kind == "onnx" else artifact.read_metadata(path)

    def parsed(key: str) -> Any:
        try:
            return json.loads(meta.get(key) or "null")
        except ValueError:
            return None

    return parsed(artifact.DATA_CONFIG_KEY), meta.get(artifact.SPLIT_RULE_KEY), parsed(artifact.TRAIN_SETS_KEY)


def _number(value: Any, kind: type) -> Any:
    """``value`` as ``kind`` (float or int), None where it is None or is not a number."""
    try:
        return None if value is None or isinstance(value, bool) else kind(value)
    except (TypeError, ValueError):
        return None


def trained_on(samples: list[Sample], fraction: float) -> int:
    """How many of ``samples`` a run holding out ``fraction`` by hash put on its training side."""
    return sum(not is_val(image_key(s.key), fraction) for s in samples)


def warn_if_trained_on(weights: str | Path, data: str | Path, samples: list[Sample], val_fraction: float) -> int:
    """Warn when ``weights`` records a smaller ``--val-fraction`` than ``val_fraction``, the evaluation's hash split,
    and some of ``samples`` (the hands that split held out; a dataset's own val/test part is not among them) fall on
    that run's training side, naming the fraction that
    scores its own held-out hands (none for a run that held out nothing: ``--val-fraction 0`` scores no hand); their
    count (0 when not, and for a shipped model)."""
    from handpose import pretrained

    if str(weights).startswith(pretrained.PREFIX):
        return 0
    trained = stored_split(weights)[0]
    if trained is None or trained >= val_fraction:
        return 0
    count = trained_on(samples, trained)
    if count and trained <= 0:  # no held-out share of its own to score it on: --val-fraction 0 holds none out
        LOG.warning("%s was trained holding out nothing (--val-fraction 0): if it trained on %s, all %d hands this "
                    "evaluation holds out by hash are ones it trained on, and its figures read too high; score it "
                    "on data it did not train on (a dataset's own test part, or another dataset)", weights, data,
                    count)
    elif count:
        LOG.warning("%s was trained holding out %g by hash (--val-fraction) and this evaluation holds out %g: if it "
                    "trained on %s, %d of the %d hands this evaluation holds out by hash are ones it trained on, and "
                    "its figures read too high; give --val-fraction %g (to every model compared)", weights, trained,
                    val_fraction, data, count, len(samples), trained)
    return count


def warn_for_split(weights: str | Path | None, data: str | Path, splits: Splits, split: str,
                   val_fraction: float) -> int:
    """:func:`warn_if_trained_on` for an evaluation of ``weights`` on the ``split`` part of ``splits`` (read from
    ``data`` with ``val_fraction``): the hands the hash split held out, where it scores the val part; 0 otherwise,
    and where ``weights`` is not known (a predictor given as an object). Where it scores a part that holds the
    training hands (``all`` or ``train``) of a dataset ``weights`` records having trained on, a warning says so,
    and the count is those training hands."""
    if weights is None:
        return 0
    if split != "val":
        return warn_if_scoring_training_part(weights, data, split, len(splits.train))
    if not splits.hash_val:  # a val/test part's hands: held out whatever
        return 0
    return (warn_if_trained_on(weights, data, splits.hash_val, val_fraction)
            + warn_if_split_by_hand(weights, data, splits.hash_val, val_fraction))


def warn_if_split_by_hand(weights: str | Path, data: str | Path, samples: list[Sample], val_fraction: float) -> int:
    """Warn when ``weights`` may come from a run of before 2026-12-06, whose hash split took hand by hand where it
    now takes whole images (``data.split``): a weights file or checkpoint that records no training datasets (written
    before 2026-12-07; an ONNX export records none ever, and is not warned about), and hands among ``samples`` (held
    out here, by image) that the hand-by-hand split put on the training side at the fraction the file records (else
    ``val_fraction``): the hands of an image of several (COCO, scenes) that such a run trained on. Their count."""
    from handpose import pretrained
    from handpose.model import artifact

    if str(weights).startswith(pretrained.PREFIX) or artifact.model_file_kind(weights) == "onnx":
        return 0
    data_config, _, sets = _recorded(weights)
    if sets is not None:
        return 0
    fraction = _number(data_config.get("val_fraction") if isinstance(data_config, dict) else None, float)
    fraction = val_fraction if fraction is None else fraction
    count = sum(is_val(image_key(s.key), fraction) and not is_val(s.key, fraction) for s in samples)
    if count:
        LOG.warning("%s records no datasets it trained on (written before 2026-12-07): if it trained on %s before "
                    "2026-12-06, when the hash split held out hand by hand, not whole images, %d of the %d hands this "
                    "evaluation holds out by hash are ones it trained on, and its figures read too high; score it on "
                    "data it did not train on (a dataset's own test part, or another dataset), or train it again",
                    weights, data, count, len(samples))
    return count


def stored_train_sets(weights: str | Path) -> set[str]:
    """The ``data.dataset_ids`` a model file records of the data it trained on (``artifact.TRAIN_SETS_KEY``);
    empty for a file that records none (a shipped model, renders alone; an ONNX export; a foreign file; weights
    written before 2026-12-07)."""
    from handpose import pretrained

    if str(weights).startswith(pretrained.PREFIX):
        return set()
    found = _recorded(weights)[2]
    return {str(v) for v in found if isinstance(v, str)} if isinstance(found, list) else set()


def warn_if_scoring_training_part(weights: str | Path, data: str | Path, split: str, training: int,
                                  what: str = "hands") -> int:
    """Warn when the ``split`` part (``all`` or ``train``) of the dataset ``data``, whose training part holds
    ``training`` hands (or images: ``what``), is scored with ``weights`` that record having trained on ``data``;
    returns ``training`` where it warned, else 0."""
    from handpose.data.dataset_ids import dataset_id

    if not training or dataset_id(data) not in stored_train_sets(weights):
        return 0
    LOG.warning("%s trained on %s (its file records it): --split %s scores the %d %s it trained on too, so its "
                "figures read too high; --split val scores the %s it held out", weights, data, split, training, what,
                what)
    return training


def recorded_fraction(split: str, hashed: bool, val_fraction: float) -> float | None:
    """The ``val_fraction`` a report records: the hash split's share where it chose the hands scored (``split``
    "train" or "val" of a dataset the hash divided, ``hashed``); None where it chose none (``--split all``, or a
    dataset's own val/test part), so every report of the same scoring says the same."""
    return val_fraction if hashed and split != "all" else None
