"""mmext: ten computer-vision papers as OpenMMLab 2.x components.

``import mmext`` stays light: it loads mmengine, creates mmext's registry
nodes and allow-lists the globals MMEngine writes into checkpoints so that
``resume=True`` works on torch >= 2.6. Components are imported by the
registries' ``locations`` when a config first asks for ``mmext.X``.
"""
from .registry import SCOPE
from .utils.checkpoint_compat import allow_mmengine_checkpoint_globals
from .version import __version__, version_info

allow_mmengine_checkpoint_globals()

__all__ = ['__version__', 'version_info', 'SCOPE',
           'allow_mmengine_checkpoint_globals']
