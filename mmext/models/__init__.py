"""mmext models.

Classification models are mmpretrain's (``cls`` keeps a deprecated
alias). Segmentation models (``seg``) need mmseg and detection models
(``det``) need mmdet; each is imported only when its host is installed.
"""
import importlib.util

from .cls import *  # noqa: F401,F403
from .inversion import *  # noqa: F401,F403
from .mvs import *  # noqa: F401,F403

if importlib.util.find_spec('torch_pruning') is not None:
    # mmext.PrunedModel, the slim model of a pruned checkpoint
    from .pruned_model import build_pruned_model  # noqa: F401

if importlib.util.find_spec('mmseg') is not None:
    from .seg import *  # noqa: F401,F403
if importlib.util.find_spec('mmdet') is not None:
    from .det import *  # noqa: F401,F403
