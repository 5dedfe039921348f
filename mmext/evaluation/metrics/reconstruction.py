"""Metrics of a recovered image batch (Yin et al., "See through Gradients:
Image Batch Recovery via GradInversion", CVPR 2021, arXiv 2104.07586).

The attack loop (:class:`mmext.GradInversionLoop`) hands each evaluated
image to the evaluator as one dict:

- ``recovered``/``original``: [C, H, W] images in [0, 1], already paired
  (Hungarian assignment, :func:`mmext.inversion.match_batch_order`);
- ``recovered_feature``/``original_feature``: [D] features of both images
  (the attacked model's pooled features) for identifiability;
- ``original_id``: the image's index in its dataset;
- ``label``/``recovered_label``: the true and the recovered class of the
  image's batch slot (labels are matched as a multiset per batch).

Extra real images for the identifiability pool come as dicts with only
``original``, ``original_feature`` and ``original_id``. Nothing here needs
weights from the internet.
"""
from collections import Counter
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric

from mmext.inversion.image_metrics import fft2d_distance, psnr, ssim
from mmext.registry import METRICS

_IMAGE_SCORES = {'psnr': psnr, 'ssim': ssim, 'fft2d': fft2d_distance}


@METRICS.register_module()
class ImageReconstructionMetric(BaseMetric):
    """Mean PSNR (dB), SSIM and FFT-2D distance of recovered images.

    Each score is computed per image pair and averaged over all recovered
    images of all batches (and ranks). Lower is better for ``fft2d``.

    Args:
        scores (Sequence[str]): Any of ``'psnr'``, ``'ssim'``, ``'fft2d'``.
        collect_device (str): Device to gather results across ranks.
        prefix (str, optional): Key prefix. Defaults to ``'inversion'``.
    """

    default_prefix: Optional[str] = 'inversion'

    def __init__(self,
                 scores: Sequence[str] = ('psnr', 'ssim', 'fft2d'),
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        unknown = [s for s in scores if s not in _IMAGE_SCORES]
        if unknown or not scores:
            raise ValueError(
                f'ImageReconstructionMetric.scores: unknown {unknown}; '
                f'choose from {sorted(_IMAGE_SCORES)}')
        self.scores = tuple(scores)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        pairs = [s for s in data_samples if s.get('recovered') is not None]
        if not pairs:
            return
        recovered = torch.stack([s['recovered'] for s in pairs]).float()
        original = torch.stack([s['original'] for s in pairs]).float()
        values = {
            name: _IMAGE_SCORES[name](recovered, original).cpu()
            for name in self.scores
        }
        for i in range(len(pairs)):
            self.results.append(
                {name: float(values[name][i]) for name in self.scores})

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        if not results:
            raise ValueError('ImageReconstructionMetric: no recovered '
                             'images were evaluated')
        return {
            name: sum(r[name] for r in results) / len(results)
            for name in self.scores
        }


@METRICS.register_module()
class IdentifiabilityPrecision(BaseMetric):
    """Image identifiability precision (IIP), percent.

    The fraction of recovered images whose nearest neighbour in a pool of
    real images is their own original (the paper, Fig. 8). The pool is
    every original evaluated (all batches, all ranks) plus the extra pool
    images the loop adds, de-duplicated by ``original_id``.

    Args:
        space (str): ``'feature'``: cosine similarity of the attacked
            model's pooled features (the paper's choice, with the victim
            network instead of a downloaded one); ``'pixel'``: smallest
            mean squared error.
        collect_device (str): Device to gather results across ranks.
        prefix (str, optional): Key prefix. Defaults to ``'inversion'``.
    """

    default_prefix: Optional[str] = 'inversion'

    def __init__(self,
                 space: str = 'feature',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if space not in ('feature', 'pixel'):
            raise ValueError("IdentifiabilityPrecision.space must be "
                             f"'feature' or 'pixel', got {space!r}")
        self.space = space

    def _vector(self, sample: dict, which: str) -> torch.Tensor:
        key = f'{which}_feature' if self.space == 'feature' else which
        if sample.get(key) is None:
            raise KeyError(
                f'IdentifiabilityPrecision(space={self.space!r}) needs '
                f'{key!r} in every evaluated sample; the loop adds features '
                'when identifiability is among its metrics')
        return sample[key].detach().float().flatten().cpu()

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            entry = dict(
                original_id=int(sample['original_id']),
                original=self._vector(sample, 'original'))
            if sample.get('recovered') is not None:
                entry['recovered'] = self._vector(sample, 'recovered')
            self.results.append(entry)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        pool: Dict[int, torch.Tensor] = {}
        for r in results:
            pool.setdefault(r['original_id'], r['original'])
        queries = [r for r in results if 'recovered' in r]
        if not queries:
            raise ValueError('IdentifiabilityPrecision: no recovered images '
                             'were evaluated')
        ids = list(pool)
        bank = torch.stack([pool[i] for i in ids])
        query = torch.stack([r['recovered'] for r in queries])
        if self.space == 'feature':
            similarity = torch.nn.functional.normalize(query, dim=1) @ \
                torch.nn.functional.normalize(bank, dim=1).T
        else:
            similarity = -torch.cdist(query, bank)
        nearest = similarity.argmax(1).tolist()
        hits = sum(ids[n] == r['original_id']
                   for n, r in zip(nearest, queries))
        return {
            f'iip_{self.space}': 100.0 * hits / len(queries),
            f'iip_{self.space}_pool_size': float(len(ids))
        }


def multiset_label_hits(true_labels: Sequence[int],
                        recovered_labels: Sequence[int]) -> int:
    """How many of a batch's labels were recovered, counted as multisets
    (order is irrelevant; a repeated label counts as often as it occurs in
    both)."""
    return sum((Counter(true_labels) & Counter(recovered_labels)).values())


@METRICS.register_module()
class LabelRecoveryAccuracy(BaseMetric):
    """Percentage of batch labels recovered from the gradients.

    Each sample of a batch carries ``batch_labels`` and
    ``recovered_batch_labels`` only on its first image (``batch_start``);
    the batch counts ``multiset_label_hits`` out of its size.

    Args:
        collect_device (str): Device to gather results across ranks.
        prefix (str, optional): Key prefix. Defaults to ``'inversion'``.
    """

    default_prefix: Optional[str] = 'inversion'

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if 'batch_labels' not in sample:
                continue
            true = [int(v) for v in sample['batch_labels']]
            found = [int(v) for v in sample['recovered_batch_labels']]
            self.results.append(
                dict(hits=multiset_label_hits(true, found), total=len(true)))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        total = sum(r['total'] for r in results)
        if not total:
            raise ValueError('LabelRecoveryAccuracy: no batch labels were '
                             'evaluated')
        return {'label_acc': 100.0 * sum(r['hits'] for r in results) / total}
