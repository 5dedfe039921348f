"""Matplotlib without a display, and PNGs written atomically."""
import os
import os.path as osp


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (no display needed)."""
    import matplotlib
    matplotlib.use('Agg', force=False)
    import matplotlib.pyplot as plt
    return plt


def save_png_atomically(fig, path: str) -> None:
    """Write ``path`` via a temporary file, so a reader never sees half."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = f'{path}.tmp.png'
    fig.savefig(tmp, dpi=120, bbox_inches='tight')
    os.replace(tmp, path)
