"""Read pickled weight dictionaries without running foreign code (the TensorFlow VGG-16 ``openpose_vgg16.npy``).

``np.load(allow_pickle=True)`` would execute whatever callable a pickle names. Here every global a pickle asks
for is checked against an allow-list that holds only what numpy arrays and plain containers need to rebuild
(``numpy.core.multiarray._reconstruct`` / ``numpy._core...``, ``numpy.ndarray``, ``numpy.dtype``, numpy scalars,
``numpy.core.numeric._frombuffer`` / ``numpy._core...`` for protocol-5 pickles (it only views bytes as an array of a
dtype and shape; numpy refuses object dtypes there), ``builtins`` containers and ``_codecs.encode`` for Python-2
byte strings). Anything else (``os.system``, ``builtins.eval``, ``subprocess.Popen``, a class with a
``__reduce__``...) stops unpickling with a ``ValueError`` before it is called: the unpickler only calls what
``find_class`` returned.

Nor can a small pickle make it allocate much: everything its constructors make (``bytes(n)``, ``bytearray(n)``,
arrays rebuilt by ``_reconstruct``, lists, tuples, sets, dicts and text) is charged against one budget of a few
times the pickle's own size; ``numpy.ndarray`` serves only as ``_reconstruct``'s array type, never as a constructor
called with a shape, and ``_codecs.encode`` turns latin-1 text into bytes and nothing else.
"""

from __future__ import annotations

import codecs
import io
import operator
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from handpose.model.pickle_shape import check_pickle_shape

NPY_MAGIC = b"\x93NUMPY"


def _numpy_multiarray() -> Any:
    try:
        from numpy._core import multiarray  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray  # type: ignore[no-redef]
    return multiarray


def _numpy_frombuffer() -> Any:
    """numpy's protocol-5 array reconstructor: ``_frombuffer(buf, dtype, shape, order)``."""
    try:
        from numpy._core.numeric import _frombuffer  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.numeric import _frombuffer  # type: ignore[no-redef]
    return _frombuffer


def _allowed() -> dict[tuple[str, str], Any]:
    ma = _numpy_multiarray()
    frombuffer = _numpy_frombuffer()
    table: dict[tuple[str, str], Any] = {}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        table[(module, "_reconstruct")] = ma._reconstruct
        table[(module, "scalar")] = ma.scalar
    for module in ("numpy.core.numeric", "numpy._core.numeric"):  # pickled by numpy 1.x / 2.x, protocol 5
        table[(module, "_frombuffer")] = frombuffer
    table[("numpy", "ndarray")] = np.ndarray
    table[("numpy", "dtype")] = np.dtype
    for module in ("builtins", "__builtin__"):  # Python 3 and Python 2 pickles
        for name, obj in {
            "dict": dict, "list": list, "tuple": tuple, "set": set, "frozenset": frozenset,
            "bytes": bytes, "bytearray": bytearray, "str": str, "int": int, "float": float,
            "complex": complex, "bool": bool, "unicode": str, "long": int,
        }.items():  # fmt: skip
            table[(module, name)] = obj
    table[("_codecs", "encode")] = codecs.encode  # protocol-2 pickles spell bytes as _codecs.encode(str, "latin1")
    return table


class PickleRefusedError(ValueError):
    """A pickle asked for something outside the allow-list (nothing of it was run)."""


class _ArrayType:
    """What a pickle's ``numpy.ndarray`` stands for: the array type ``_reconstruct`` builds, and nothing else (called
    itself, with a shape of the pickle's choosing, it would allocate what that shape says)."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        raise PickleRefusedError("refusing numpy.ndarray(...) called in a weight pickle (numpy's own pickles rebuild "
                                 "arrays through _reconstruct)")


def limit_for(size: int) -> int:
    """The most bytes one object unpickled from ``size`` bytes may take: 4 bytes per byte read (a byte of int8 that
    becomes a float32), plus a MiB."""
    return 4 * int(size) + (1 << 20)


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler whose ``find_class`` returns only allow-listed numpy / builtin callables, those that allocate by
    a number held to ``limit`` bytes."""

    def __init__(self, file: io.BufferedIOBase, source: str = "pickle", limit: int = 1 << 30) -> None:
        super().__init__(file, encoding="latin1")  # latin1: Python-2 numpy pickles carry raw bytes as str
        self._allowed = _allowed()
        self._source = source
        self._limit = int(limit)
        self._spent = 0  # bytes charged so far: every constructor a pickle calls, over the whole load
        self._allowed[("numpy", "ndarray")] = _ArrayType
        reconstruct = _numpy_multiarray()._reconstruct
        for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
            self._allowed[(module, "_reconstruct")] = self._reconstruct(reconstruct)
        for module in ("builtins", "__builtin__"):
            for name, kind in (("bytes", bytes), ("bytearray", bytearray)):
                self._allowed[(module, name)] = self._sized(kind)
            for name, kind in (("list", list), ("tuple", tuple), ("set", set), ("frozenset", frozenset),
                               ("dict", dict), ("str", str), ("unicode", str)):
                self._allowed[(module, name)] = self._charged(kind)
        self._allowed[("_codecs", "encode")] = self._latin1

    def _charge(self, what: str, nbytes: float) -> None:
        """Count ``nbytes`` more against the load's limit; PickleRefusedError past it."""
        self._spent += max(0, int(nbytes))
        if self._spent > self._limit:
            raise PickleRefusedError(f"{self._source}: refusing {what} of {nbytes:,.0f} bytes from a weight pickle "
                                     f"(at most {self._limit:,} in all for a file of its size)")

    def _sized(self, kind: type) -> Any:
        """``kind`` (bytes or bytearray) whose size argument, when it is a number, is charged before it is made."""
        def make(*args: Any) -> Any:
            if args and not isinstance(args[0], (bytes, bytearray, str, list, tuple)):  # a size: bytes(n)
                try:
                    size = operator.index(args[0])
                except TypeError:
                    raise PickleRefusedError(f"{self._source}: refusing {kind.__name__}() of a "
                                             f"{type(args[0]).__name__}") from None
                self._charge(kind.__name__, size)
                return kind(size)
            made = kind(*args)
            self._charge(kind.__name__, len(made))
            return made

        return make

    def _charged(self, kind: type) -> Any:
        """A container or text constructor whose result is charged by its length (8 bytes an item, a byte a
        character)."""
        def make(*args: Any) -> Any:
            made = kind(*args)
            self._charge(kind.__name__, len(made) * (1 if isinstance(made, str) else 8))
            return made

        return make

    def _latin1(self, text: Any, encoding: str = "utf-8", *rest: Any) -> bytes:
        """``_codecs.encode`` as protocol-2 pickles use it: a str to latin-1 bytes, and nothing else (another codec,
        hex say, doubles its input at every call)."""
        if not isinstance(text, str) or str(encoding).lower().replace("_", "-") not in ("latin1", "latin-1"):
            raise PickleRefusedError(f"{self._source}: refusing _codecs.encode with {str(encoding)!r:.20} in a weight "
                                     "pickle (only latin-1 text is expected)")
        made = codecs.encode(text, "latin1")
        self._charge("bytes", len(made))
        return made

    def _reconstruct(self, reconstruct: Any) -> Any:
        """numpy's ``_reconstruct(type, shape, dtype)`` for plain arrays of at most the limit's bytes."""
        def make(subtype: Any, shape: Any, dtype: Any) -> Any:
            if subtype is not _ArrayType:
                raise PickleRefusedError(f"{self._source}: refusing an array of type {subtype!r} in a weight pickle")
            try:
                count = float(np.prod(np.asarray(shape, dtype=np.float64)))
                itemsize = np.dtype(dtype).itemsize
            except (TypeError, ValueError) as exc:
                raise PickleRefusedError(f"{self._source}: an array of shape {shape!r:.60}: {exc}") from None
            self._charge("an array", count * itemsize)
            return reconstruct(np.ndarray, shape, dtype)

        return make

    def find_class(self, module: str, name: str) -> Any:
        obj = self._allowed.get((module, name))
        if obj is None:
            raise PickleRefusedError(
                f"{self._source}: refusing to unpickle global {module}.{name}: only numpy arrays, dicts, lists and "
                "plain values are allowed in a weight file (nothing from it was run)"
            )
        return obj

    def persistent_load(self, pid: Any) -> Any:
        raise PickleRefusedError(f"{self._source}: refusing a persistent id in a weight pickle")


def restricted_loads(data: bytes, source: str = "pickle") -> Any:
    """Unpickle ``data`` allowing only numpy arrays and plain containers of a size in keeping with ``data``'s
    (``ValueError`` otherwise)."""
    check_pickle_shape(data, source)  # memo indices and shared references in proportion to the pickle's length
    try:
        return RestrictedUnpickler(io.BytesIO(data), source, limit_for(len(data))).load()
    except PickleRefusedError:
        raise
    except Exception as exc:  # truncated or corrupt stream (UnpicklingError, EOFError), numpy refusing a dtype, ...
        raise ValueError(f"{source}: not a readable pickle ({type(exc).__name__}: {exc})") from exc


def _npy_header(f: io.BufferedIOBase, path: Path) -> tuple[tuple[int, ...], bool, np.dtype]:
    """``(shape, fortran order, dtype)`` from the header of the .npy file open at its start; ValueError naming
    ``path`` when numpy cannot parse it (the header is a Python literal: a damaged one fails in numpy's parser, or in
    Python's tokenizer with a ``TokenError`` that is no ValueError)."""
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(f)
        return np.lib.format.read_array_header_2_0(f)
    except Exception as exc:  # ValueError, tokenize.TokenError, SyntaxError, MemoryError of a 4 GiB header length...
        raise ValueError(f"{path}: not a readable .npy header ({type(exc).__name__}: {exc})"[:300]) from None


def load_pickled_npy(path: str | Path) -> Any:
    """What ``np.load(path, allow_pickle=True)`` (then ``.item()`` for a 0-d object array) would give, safely.

    Accepts a ``.npy`` file (any dtype; object arrays go through :class:`RestrictedUnpickler`) or a bare pickle.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weight file not found: {path}")
    with path.open("rb") as f:
        if f.read(len(NPY_MAGIC)) != NPY_MAGIC:  # a bare pickle (np.load falls back to pickle too)
            f.seek(0)
            return restricted_loads(f.read(), str(path))
        f.seek(0)
        shape, fortran, dtype = _npy_header(f, path)
        if not dtype.hasobject:
            need = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
            held = path.stat().st_size - f.tell()
            if held < need:  # checked before numpy allocates what the header claims (terabytes, in a crafted file)
                raise ValueError(f"{path}: a truncated .npy file: its header says {tuple(shape)} {dtype} "
                                 f"({need:,} bytes), the file holds {held:,}")
            f.seek(0)
            try:
                return np.lib.format.read_array(f, allow_pickle=False)
            except ValueError as exc:  # a shape numpy refuses (a negative dimension, ...)
                raise ValueError(f"{path}: not a readable .npy array ({exc})"[:300]) from None
        array = restricted_loads(f.read(), str(path))
    if isinstance(array, np.ndarray) and array.dtype.hasobject and array.shape == ():
        return array.item()  # np.save(dict) stores a 0-d object array
    return array
