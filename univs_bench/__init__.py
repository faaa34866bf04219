"""univs-bench: one evaluation suite for unified video segmentation, with UniVS as reference model.

Importing the package is cheap on purpose: heavy modules (torch, mmengine models, cv2) are
imported only by the commands that need them.
"""

__version__ = "0.1.0"
