"""The CPM network (``cpm.py``), its weight files (``weights.py``) and weight importers (.npy, VGG-19, caffemodel)."""
