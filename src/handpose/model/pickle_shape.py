"""A pickle's opcodes walked before it is unpickled (``pickletools.genops``: nothing is built, nothing called), to
refuse what a few bytes of pickle can make any unpickler do, whatever ``safe_pickle``'s allow-list says:

- a memo index far past the pickle's length: CPython's unpickler grows its memo table to twice the index and
  clears every new slot, so ``LONG_BINPUT 100000000`` (9 bytes) takes 1.6 GB;
- an object that, its shared references written out, is far larger than the pickle: n tuples each holding the one
  before twice (a memo ``GET`` each) are 2^n tuples once expanded, and hashing the last (a dict key, a set item) or
  ``str()`` of it walks all of them, for hours at n = 40 in 250 bytes.

The walk simulates the unpickler's stack: each opcode that makes an object adds a node holding the nodes it took
from the stack (a tuple, a list, a ``REDUCE`` of a callable and its arguments, ...); ``APPEND(S)``, ``SETITEM(S)``,
``ADDITEMS`` and ``BUILD`` add them to the object below them instead, memo ``PUT`` / ``GET`` and ``DUP`` hand on
the same node. Each node's expanded size is then 1 plus its children's, a child met again on a cycle counting 1.
numpy's own pickles share little (a dtype, a global function) and stay within a few nodes an opcode.
"""

from __future__ import annotations

import io
import pickletools
from typing import IO

EXPANSION_PER_OPCODE = 16  # expanded nodes allowed per opcode read (numpy's pickles of arrays: under 2)
EXPANSION_SLACK = 4096  # and this many more, for small pickles
_MUTATORS = frozenset({"APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS", "BUILD"})  # add to the object below
_GETS = frozenset({"GET", "BINGET", "LONG_BINGET"})
_PUTS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})


class PickleShapeError(ValueError):
    """A pickle that would make the unpickler allocate or walk far more than its own size."""


class PickleUnreadableError(PickleShapeError):
    """Bytes that ``pickletools`` cannot read as a pickle (truncated, an unknown opcode, a stack that runs short)."""


def check_pickle_shape(data: bytes, source: str = "pickle") -> None:
    """PickleShapeError naming ``source`` for a pickle whose memo indices or expanded objects are out of proportion to
    its length (see the module docstring), in the part read before any damage too; PickleUnreadableError for
    opcodes ``pickletools`` cannot read."""
    check_pickle_stream(io.BytesIO(data), source)


def check_pickle_stream(stream: IO[bytes], source: str = "pickle") -> None:
    """:func:`check_pickle_shape` of the pickle that starts at ``stream``'s position, read up to its ``STOP`` (where
    the stream is left: the legacy torch format is several pickles one after another)."""
    children: list[list[int]] = []  # node -> the nodes it holds
    stack: list[int] = []
    marks: list[int] = []  # the stack's length at each open MARK
    memo: dict[int, int] = {}
    count = 0
    try:
        for count, (op, arg, _) in enumerate(pickletools.genops(stream), 1):
            name = op.name
            if name in _PUTS or name == "MEMOIZE":
                index = len(memo) if name == "MEMOIZE" else int(arg)
                if index > count:
                    raise PickleShapeError(f"{source}: memo index {index:,} at opcode {count:,} of a weight pickle "
                                           "(an unpickler would make room for all those entries)")
                if stack:
                    memo[index] = stack[-1]
                continue
            if name in _GETS:
                index = int(arg)
                stack.append(memo[index] if index in memo else _new(children, []))
                continue
            if name == "DUP":
                stack.append(stack[-1] if stack else _new(children, []))
                continue
            if name == "POP" and marks and marks[-1] == len(stack):  # as CPython: POP at a mark drops the mark
                marks.pop()
                continue
            taken = _pop(stack, marks, [kind.name for kind in op.stack_before])
            if name == "MARK":
                marks.append(len(stack))
            elif name in _MUTATORS and taken:
                children[taken[0]].extend(taken[1:])  # the container stays the same object
                stack.append(taken[0])
            elif op.stack_after:
                stack.append(_new(children, taken))
    except PickleShapeError:
        raise
    except Exception as exc:  # pickletools' ValueError for a truncated or unknown opcode, a GET of an empty stack...
        # an unpickler builds (and hashes) as it reads: a pickle cut short after a doubling key costs the hours
        # before its end is found missing, so what was read is held to the same measure
        _check_expansion(children, count, source)
        raise PickleUnreadableError(f"{source}: not a readable pickle at opcode {count + 1:,} "
                               f"({type(exc).__name__}: {exc})"[:300]) from None
    _check_expansion(children, count, source)


def _check_expansion(children: list[list[int]], count: int, source: str) -> None:
    """PickleShapeError when a node of the ``children`` read from ``count`` opcodes expands past their measure."""
    limit = EXPANSION_PER_OPCODE * count + EXPANSION_SLACK
    if _largest_expansion(children, limit) > limit:
        raise PickleShapeError(f"{source}: an object of a weight pickle of {count:,} opcodes holds more than "
                               f"{limit:,} objects once its shared references are written out, more than a file of "
                               "its size can (a pickle repeating one object, that hashing or reading it walks for "
                               "hours)")


def _new(children: list[list[int]], taken: list[int]) -> int:
    """A new node holding ``taken``; its id."""
    children.append(taken)
    return len(children) - 1


def _pop(stack: list[int], marks: list[int], before: list[str]) -> list[int]:
    """Take what an opcode whose ``stack_before`` is ``before`` takes, bottom first: everything above the topmost mark
    (closing it) when it takes a mark, plus as many objects below as it names before the mark. IndexError when the
    stack or the marks run short."""
    taken: list[int] = []
    below = len(before)
    if "mark" in before:
        below = before.index("mark")
        at = marks.pop()
        taken = stack[at:]
        del stack[at:]
    if below:
        if len(stack) < below:
            raise IndexError(f"the stack holds {len(stack)} objects, the opcode takes {below}")
        taken = stack[-below:] + taken
        del stack[-below:]
    return taken


def _largest_expansion(children: list[list[int]], cap: int) -> int:
    """The largest expanded size of any node (stopping once one passes ``cap``), walked without recursion."""
    size = [0] * len(children)
    state = bytearray(len(children))  # 0 unseen, 1 on the walk's path, 2 sized
    largest = 0
    for root in range(len(children)):
        if state[root]:
            continue
        state[root] = 1
        path = [(root, 0)]
        while path:
            node, i = path[-1]
            kids = children[node]
            if i < len(kids):
                path[-1] = (node, i + 1)
                if state[kids[i]] == 0:
                    state[kids[i]] = 1
                    path.append((kids[i], 0))
                continue
            path.pop()
            total = 1 + sum(size[k] if state[k] == 2 else 1 for k in kids)  # a node on the path: a cycle, 1
            size[node], state[node] = min(total, cap + 1), 2
            largest = max(largest, size[node])
            if largest > cap:
                return largest
    return largest
