"""ImageNet-style class folders (``classification/{split}/{class}/``).

Each class folder holds ``{k:05d}.png`` crops of one object of that class
on a textured background (:func:`~.scene.render_crop`). The class index of
a folder is its position in :data:`~.classes.THING_CLASSES`; the same
assignment is also written as ``classification/meta/{split}.txt`` lines
``{class}/{k:05d}.png {label}`` (mmpretrain's ImageNet annotation format).
Classes are balanced in both modes.
"""
import os
import os.path as osp
from typing import Callable, Dict, Optional

from .classes import THING_CLASSES
from .fileio import write_png_rgb
from .presets import ShapesPreset
from .scene import render_crop
from .seeding import stream_rng


def write_crops(root: str,
                split: str,
                count: int,
                preset: ShapesPreset,
                seed: int,
                tick: Optional[Callable[[int], None]] = None
                ) -> Dict[str, int]:
    """Render and write ``count`` crops per class for one split.

    Args:
        root: The output's ``classification`` folder.
        split: 'train' or 'val'.
        count: Crops per class.
        preset: Sizes.
        seed: Global seed; crop ``k`` of class ``c`` uses the stream
            ``('crop/<split>', c, k)``.
        tick: Called with 1 after every crop (progress bar).

    Returns:
        Number of crops written per class name.
    """
    lines = []
    for label, name in enumerate(THING_CLASSES):
        for k in range(count):
            rng = stream_rng(seed, f'crop/{split}', label, k)
            rel = f'{name}/{k:05d}.png'
            write_png_rgb(osp.join(root, split, rel),
                          render_crop(preset, label, rng))
            lines.append(f'{rel} {label}\n')
            if tick is not None:
                tick(1)
    os.makedirs(osp.join(root, 'meta'), exist_ok=True)
    with open(osp.join(root, 'meta', f'{split}.txt'), 'w',
              encoding='utf-8') as f:
        f.writelines(lines)
    return {name: count for name in THING_CLASSES}
