# UniVS R50 (46.97M parameters without the CLIP text encoder).
from mmengine.config import read_base

with read_base():
    from .univs_model import *  # noqa: F401,F403
