"""The hash split is pinned to SHA-1: a sample's side must not move between versions or machines."""

from __future__ import annotations

import pytest

from handpose.data.split import hash_split, image_key, is_val, key_fraction


def test_key_fraction_is_the_first_8_bytes_of_sha1_big_endian() -> None:
    """FIPS 180's SHA-1 test vectors: "abc" -> a9993e36 4706816a ..., "" -> da39a3ee 5e6b4b0d ... A run trained
    under one version and evaluated with --split under another must hold out the same images."""
    assert key_fraction("abc") == 0xA9993E364706816A / 2.0**64
    assert key_fraction("") == 0xDA39A3EE5E6B4B0D / 2.0**64
    assert not is_val("abc", 0.66) and is_val("abc", 0.67)  # 0xa999... / 2^64 = 0.6625


def test_the_image_key_is_the_part_before_the_first_hash() -> None:
    assert image_key("dir/photo.jpg#12") == "dir/photo.jpg"
    assert image_key("dir/photo.jpg") == "dir/photo.jpg"


@pytest.mark.parametrize("fraction", [1.0, 1.5, -0.1])
def test_a_held_out_share_outside_0_to_1_is_refused(fraction: float) -> None:
    """A share of 1 would leave nothing to train on."""
    with pytest.raises(ValueError, match="val_fraction"):
        hash_split([], fraction)
