"""The learning-curve plot of active-learning runs (Elezi et al., CVPR 2022,
arXiv 2106.11921, Fig. 3 style): the metric against labelled images, mean
over seeds with a band of one standard deviation."""
from typing import Mapping

from mmext.active_learning.curves import LearningCurve
from .figure_io import pyplot, save_png_atomically


def plot_learning_curves(curves: Mapping[str, LearningCurve], metric: str,
                         path: str, title: str = 'Active learning') -> None:
    """Save the curves as a PNG.

    Args:
        curves: Method name -> its curve over seeds.
        metric: The metric's name (the y label).
        path: Output PNG.
        title: Figure title.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, curve in curves.items():
        mean, std = curve.mean, curve.std
        seeds = len(curve.values)
        ax.plot(curve.num_labelled, mean, marker='o', markersize=3,
                label=f'{name} ({seeds} seed{"s" if seeds > 1 else ""})')
        ax.fill_between(curve.num_labelled,
                        [m - s for m, s in zip(mean, std)],
                        [m + s for m, s in zip(mean, std)], alpha=0.15)
    ax.set_xlabel('labelled images')
    ax.set_ylabel(metric)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc='lower right')
    save_png_atomically(fig, path)
    plt.close(fig)
