"""Plots of EPI (Shen et al., "When to Prune?", CVPR 2022): the indicator
over training, and the oracle's accuracy against the pruning epoch."""
from typing import Optional, Sequence

from .figure_io import pyplot as _figure
from .figure_io import save_png_atomically as _save_atomically


def plot_epi_curve(epochs: Sequence[float],
                   scores: Sequence[Optional[float]],
                   tau: float,
                   path: str,
                   pruned_epoch: Optional[float] = None,
                   title: str = 'Early Pruning Indicator') -> None:
    """Save EPI against the training epoch as a PNG.

    Args:
        epochs (Sequence[float]): Epoch (fractional) of each tracking point.
        scores (Sequence[float | None]): EPI there; None before the window
            is full (not drawn).
        tau (float): The threshold, drawn dashed.
        path (str): Output PNG.
        pruned_epoch (float, optional): Where pruning happened, marked.
        title (str): Figure title.
    """
    plt = _figure()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    points = [(e, s) for e, s in zip(epochs, scores) if s is not None]
    if points:
        ax.plot(*zip(*points), marker='o', markersize=3, label='EPI')
    ax.axhline(tau, linestyle='--', color='gray', label=f'tau = {tau:g}')
    if pruned_epoch is not None:
        ax.axvline(pruned_epoch, color='red', label=f'pruned at epoch '
                   f'{pruned_epoch:.2f}')
    ax.set_xlabel('epoch')
    ax.set_ylabel('EPI')
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc='lower right')
    _save_atomically(fig, path)
    plt.close(fig)


def plot_oracle(prune_epochs: Sequence[float], accuracies: Sequence[float],
                costs: Sequence[float], path: str,
                epi_epochs: Sequence[float] = (),
                epi_scores: Sequence[Optional[float]] = (),
                epi_pick: Optional[float] = None,
                epi_accuracy: Optional[float] = None,
                dense_accuracy: Optional[float] = None,
                metric: str = 'accuracy') -> None:
    """Save the oracle grid: final accuracy and cost per pruning epoch, with
    the EPI curve and EPI's pick.

    Args:
        prune_epochs (Sequence[float]): Candidate pruning epochs.
        accuracies (Sequence[float]): Final metric of each candidate run.
        costs (Sequence[float]): Training wall-clock of each, relative to
            dense training.
        path (str): Output PNG.
        epi_epochs, epi_scores: The EPI run's curve (optional).
        epi_pick (float, optional): Epoch at which EPI pruned.
        epi_accuracy (float, optional): Final metric of the EPI run.
        dense_accuracy (float, optional): Final metric of dense training.
        metric (str): Name of the metric, for the axis.
    """
    plt = _figure()
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(6.4, 6), sharex=True, height_ratios=(2, 1))
    top.plot(prune_epochs, accuracies, marker='o', label='pruned at epoch')
    if dense_accuracy is not None:
        top.axhline(dense_accuracy, linestyle=':', color='gray',
                    label='dense')
    if epi_pick is not None and epi_accuracy is not None:
        top.scatter([epi_pick], [epi_accuracy], marker='*', s=160,
                    color='red', zorder=3, label='EPI pick')
    top.set_ylabel(f'final {metric}')
    top.grid(alpha=0.3)
    top.legend(loc='best')
    cost_axis = top.twinx()
    cost_axis.plot(prune_epochs, costs, color='tab:green', linestyle='--',
                   marker='x', label='cost')
    cost_axis.set_ylabel('wall-clock / dense', color='tab:green')
    points = [(e, s) for e, s in zip(epi_epochs, epi_scores) if s is not None]
    if points:
        bottom.plot(*zip(*points), marker='o', markersize=3)
    if epi_pick is not None:
        bottom.axvline(epi_pick, color='red')
    bottom.set_xlabel('pruning epoch')
    bottom.set_ylabel('EPI')
    bottom.grid(alpha=0.3)
    _save_atomically(fig, path)
    plt.close(fig)
