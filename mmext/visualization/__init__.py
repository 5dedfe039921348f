"""mmext.visualization: plots, image grids and visualizers.

:class:`PanopticVisualizer` needs mmdet and is imported only when it is
installed.
"""
import importlib.util

if importlib.util.find_spec('mmdet') is not None:
    from .panoptic_visualizer import PanopticVisualizer  # noqa: F401
