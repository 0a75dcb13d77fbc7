"""The CPM network (``cpm.py``), its model files (``artifact.py``) and foreign-weight importers (.npy, VGG-19,
caffemodel)."""
