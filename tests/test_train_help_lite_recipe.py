"""``handpose train --help`` lists the lite recipe's settings beside the openpose defaults it shows; the edge cut,
on in the lite recipe only, is among them (the help showed ``--edge-cut-prob`` at its default 0.0 alone)."""

from __future__ import annotations

from handpose.commands import train
from handpose.training.recipes import RECIPES


def test_train_help_names_the_lite_recipes_edge_cut() -> None:
    share = RECIPES["lite"]["augment"]["edge_cut_prob"]
    assert share > 0
    text = " ".join((train.__doc__ or "").split())
    assert f"(--edge-cut-prob {share:g})" in text
