"""Datasets: on-disk readers, crops and augmentation, belief-map targets."""
