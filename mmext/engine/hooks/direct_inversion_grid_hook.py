"""The picture a test run of direct inversion leaves behind (Dong et al.,
"Deep Neural Networks are Surprisingly Reversible: A Baseline for Zero-Shot
Inversion", arXiv 2107.06304): originals, the zero-shot inversions and the
optimisation baseline's inversions of the first test images."""
import os.path as osp
from typing import List, Optional

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from mmext.inversion.direct.evaluate import time_and_score
from mmext.registry import HOOKS
from mmext.utils.atomic import atomic_write_json
from mmext.utils.model import unwrap
from mmext.visualization.inversion_grid import save_rows_grid

__all__ = ['DirectInversionGridHook']


@HOOKS.register_module()
class DirectInversionGridHook(Hook):
    """After ``tools/test.py`` of a :class:`mmext.DirectInverter`: a grid
    (row 1 the originals, row 2 the zero-shot inversions, row 3 the
    optimisation baseline's) of the first ``num_images`` test images of
    rank 0, and both methods' PSNR, SSIM and time per image on them, in
    ``<log_dir>/<out_file>`` and ``.json`` beside it.

    Args:
        num_images: Images in the grid (the baseline runs on them only).
        baseline: Keyword arguments of
            :meth:`mmext.DirectInverter.invert_by_optimisation`
            (``iterations``, ``lr``, ``tv_weight``, ...); None leaves the
            baseline row out.
        out_file: The PNG's name.
    """

    priority = 'LOW'

    def __init__(self,
                 num_images: int = 8,
                 baseline: Optional[dict] = dict(iterations=1000),
                 out_file: str = 'direct_inversion_grid.png') -> None:
        if num_images < 1:
            raise ValueError('DirectInversionGridHook.num_images: at least '
                             f'1, got {num_images}')
        self.num_images = num_images
        self.baseline = None if baseline is None else dict(baseline)
        self.out_file = out_file
        self._originals: List[torch.Tensor] = []

    def before_test(self, runner) -> None:
        self._originals = []

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs=None) -> None:
        for output in outputs or []:
            if len(self._originals) < self.num_images:
                self._originals.append(output['original'].detach().cpu())

    def after_test_epoch(self, runner, metrics=None) -> None:
        if not is_main_process() or not self._originals:
            return
        model = unwrap(runner.model)
        device = next(model.parameters()).device
        original = torch.stack(self._originals).to(device)
        features = model.features(model.to_unit_normalised(original))
        methods = dict(zero_shot=model.invert)
        if self.baseline is not None:
            methods['baseline'] = lambda f: model.invert_by_optimisation(
                f, **self.baseline)
        results = {
            name: time_and_score(invert, features, original,
                                 model.to_pixels)
            for name, invert in methods.items()
        }
        path = osp.join(runner.log_dir, self.out_file)
        save_rows_grid(path, [original] +
                       [r.pixels for r in results.values()])
        summary = {
            name: dict(psnr=r.psnr, ssim=r.ssim,
                       seconds_per_image=r.seconds_per_image)
            for name, r in results.items()
        }
        summary['num_images'] = len(original)
        atomic_write_json(osp.splitext(path)[0] + '.json', summary)
        runner.logger.info(
            f'direct inversion grid ({len(original)} images, rows: '
            f'originals, {", ".join(results)}) -> {path}; ' + '; '.join(
                f'{name}: PSNR {r.psnr:.2f} dB, SSIM {r.ssim:.3f}, '
                f'{r.seconds_per_image * 1e3:.2f} ms/image'
                for name, r in results.items()))
