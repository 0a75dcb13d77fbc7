"""handpose: train, evaluate, export and run an OpenPose-style (CPM) hand keypoint detector."""

__version__ = "0.1.0"
