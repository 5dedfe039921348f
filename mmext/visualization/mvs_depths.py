"""The depth-map figure of multi-view stereo: one row per reference view,
with the image, the predicted depth, the ground truth (same colour scale,
invalid pixels black), the confidence and the absolute error.

:func:`plot_depth_views` takes plain arrays; ``tools/mvs/
visualize_depths.py`` runs a model (:mod:`mmext.mvs.predict`) to get them.
"""
from typing import Optional, Sequence, Tuple

import numpy as np

from .figure_io import save_png_atomically

__all__ = ['plot_depth_views', 'depth_color_range']

#: Colour maps: depth and ground truth share one, invalid pixels black.
DEPTH_CMAP = 'viridis'
CONFIDENCE_CMAP = 'cividis'
ERROR_CMAP = 'Reds'
INVALID_COLOR = 'black'


def _valid(depth: np.ndarray) -> np.ndarray:
    """Pixels with a depth: finite and positive."""
    return np.isfinite(depth) & (depth > 0)


def depth_color_range(depth: np.ndarray,
                      gt_depth: Optional[np.ndarray] = None
                      ) -> Tuple[float, float]:
    """The colour scale of one row: the range of the valid ground truth,
    or of the valid prediction where there is none.

    Args:
        depth (np.ndarray): [H, W] predicted depth.
        gt_depth (np.ndarray, optional): [H, W] ground truth, ``<= 0`` (or
            non-finite) where invalid.

    Returns:
        tuple[float, float]: ``(vmin, vmax)`` with ``vmin < vmax``; ``(0,
        1)`` when neither map has a valid pixel.
    """
    for values in (gt_depth, depth):
        if values is None:
            continue
        values = np.asarray(values, dtype=np.float64)
        values = values[_valid(values)]
        if values.size:
            low, high = float(values.min()), float(values.max())
            if high <= low:  # a constant map: a unit-wide scale around it
                low, high = low - 0.5, high + 0.5
            return low, high
    return 0.0, 1.0


def _as_image(image: np.ndarray, name: str) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'{name}: expected an [H, W, 3] RGB image, got '
                         f'shape {image.shape}')
    if image.dtype != np.uint8:
        image = np.clip(image.astype(np.float64), 0, 1)
    return image


def _as_map(value: np.ndarray, name: str, shape: Tuple[int, int]
            ) -> np.ndarray:
    value = np.asarray(value, dtype=np.float64)
    if value.shape != shape:
        raise ValueError(f'{name}: expected an [H, W] map of the image size '
                         f'{shape}, got shape {value.shape}')
    return value


def _check_lengths(**sequences) -> int:
    lengths = {name: len(seq) for name, seq in sequences.items()
               if seq is not None}
    if len(set(lengths.values())) != 1:
        raise ValueError(f'plot_depth_views: one entry per view in every '
                         f'argument, got lengths {lengths}')
    return next(iter(lengths.values()))


def plot_depth_views(images: Sequence[np.ndarray],
                     depths: Sequence[np.ndarray],
                     gt_depths: Optional[Sequence[Optional[np.ndarray]]],
                     confidences: Sequence[np.ndarray],
                     *,
                     titles: Optional[Sequence[str]] = None,
                     depth_ranges: Optional[Sequence[Tuple[float,
                                                           float]]] = None,
                     show_error: bool = True,
                     max_error: Optional[float] = None,
                     path: Optional[str] = None):
    """A grid of depth panels, one row per view.

    Columns: the reference image, the predicted depth, the ground truth,
    the confidence (0..1) and, with ``show_error``, ``|depth - gt|``. The
    predicted and ground-truth depth of a row share one colour scale
    (``depth_ranges``, else :func:`depth_color_range`) and colour bar;
    pixels without depth (``<= 0`` or non-finite) and, in the error panel,
    pixels without ground truth or without depth (a hole in pseudo
    labels) are black, so its mean covers the pixels that have both. A
    view without ground truth (``None``, or no valid pixel) gets an
    all-black ground-truth and error panel titled so.

    Args:
        images (Sequence[np.ndarray]): [H, W, 3] RGB, uint8 or floats in
            [0, 1].
        depths (Sequence[np.ndarray]): [H, W] predicted depth.
        gt_depths (Sequence[np.ndarray | None], optional): [H, W] ground
            truth (``<= 0`` invalid), None for a view without; None for no
            view.
        confidences (Sequence[np.ndarray]): [H, W] confidence in [0, 1].
        titles (Sequence[str], optional): A label per row (e.g. ``'scan3
            view 0'``).
        depth_ranges (Sequence[tuple], optional): ``(vmin, vmax)`` of the
            depth colour scale per row.
        show_error (bool): Add the absolute-error column. Defaults to True.
        max_error (float, optional): Top of the error colour scale; default
            the largest error of the row.
        path (str, optional): Also save the figure as a PNG there
            (atomically).

    Returns:
        matplotlib.figure.Figure: The figure, not registered with pyplot
        (nothing to close). ``fig.axes`` holds the ``rows x columns``
        panels, row-major, followed by the colour bars (axes labelled
        ``'<colorbar>'``).

    Raises:
        ValueError: If the sequences differ in length, are empty, or a map
            is not at its image's size (the message names the argument and
            the view).
    """
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    num = _check_lengths(images=images, depths=depths, gt_depths=gt_depths,
                         confidences=confidences, titles=titles,
                         depth_ranges=depth_ranges)
    if num == 0:
        raise ValueError('plot_depth_views: no view to plot')
    columns = ['image', 'depth', 'ground truth', 'confidence']
    if show_error:
        columns.append('|depth - gt|')

    image0 = np.asarray(images[0])
    aspect = image0.shape[0] / max(image0.shape[1], 1)
    panel = 2.6
    fig = Figure(figsize=(panel * len(columns), panel * aspect * num + 0.4),
                 layout='constrained')
    axes = fig.subplots(num, len(columns), squeeze=False)

    def cmap(name: str):
        return colormaps[name].with_extremes(bad=INVALID_COLOR)

    for row in range(num):
        image = _as_image(images[row], f'images[{row}]')
        shape = image.shape[:2]
        depth = _as_map(depths[row], f'depths[{row}]', shape)
        confidence = _as_map(confidences[row], f'confidences[{row}]', shape)
        gt = None
        if gt_depths is not None and gt_depths[row] is not None:
            gt = _as_map(gt_depths[row], f'gt_depths[{row}]', shape)
        gt_valid = _valid(gt) if gt is not None else np.zeros(shape, bool)
        if depth_ranges is not None:
            vmin, vmax = (float(v) for v in depth_ranges[row])
        else:
            vmin, vmax = depth_color_range(depth, gt)

        ax_image, ax_depth, ax_gt, ax_conf = axes[row, :4]
        ax_image.imshow(image)
        shown = ax_depth.imshow(
            np.ma.masked_where(~_valid(depth), depth), cmap=cmap(DEPTH_CMAP),
            vmin=vmin, vmax=vmax, interpolation='nearest')
        ax_gt.imshow(
            np.ma.masked_where(~gt_valid,
                               gt if gt is not None else np.zeros(shape)),
            cmap=cmap(DEPTH_CMAP), vmin=vmin, vmax=vmax,
            interpolation='nearest')
        fig.colorbar(shown, ax=[ax_depth, ax_gt], fraction=0.05, pad=0.02)
        conf = ax_conf.imshow(confidence, cmap=cmap(CONFIDENCE_CMAP), vmin=0,
                              vmax=1, interpolation='nearest')
        fig.colorbar(conf, ax=ax_conf, fraction=0.05, pad=0.02)
        no_gt = not gt_valid.any()
        if show_error:
            ax_error = axes[row, 4]
            error = np.abs(depth - (gt if gt is not None else 0.0))
            error = np.ma.masked_where(
                ~gt_valid | ~_valid(depth) | ~np.isfinite(error), error)
            top = max_error
            if top is None:
                top = float(error.max()) if error.count() else 1.0
            errors = ax_error.imshow(error, cmap=cmap(ERROR_CMAP), vmin=0,
                                     vmax=max(top, 1e-6),
                                     interpolation='nearest')
            fig.colorbar(errors, ax=ax_error, fraction=0.05, pad=0.02)
            if not no_gt:
                ax_error.set_xlabel(
                    f'mean {float(error.mean()):.3g}', fontsize=8)
        if titles is not None:
            ax_image.set_ylabel(str(titles[row]), fontsize=9)
        for col, ax in enumerate(axes[row]):
            title = columns[col]
            if no_gt and col in (2, 4):
                title += ' (none)'
            if row == 0 or (no_gt and col in (2, 4)):
                ax.set_title(title, fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
    if path is not None:
        save_png_atomically(fig, path)
    return fig
