"""GradInversion attacks the tests of its seed paths share: the same
target, seed and start on a tiny float64 BN classifier, seeds made
distinct, and a check that two attacks take the same steps. In float64 the
paths (loop, batched, threads, pooled) differ by summation order only."""
import math
from typing import Optional, Tuple

import torch
from torch import nn

from mmext.inversion.attack import GradInversion, InversionSettings, \
    valid_range
from mmext.inversion.gradients import batch_gradients

from .classifiers import tiny_bn_classifier

__all__ = ['SHAPE', 'TIGHT', 'seeded_attacks', 'distinct_seeds',
           'take_the_same_steps']

LOWER, UPPER = valid_range((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
#: Image shape (C, H, W) of the attacked batch.
SHAPE = (3, 8, 8)
#: Tolerances of float64 paths that differ by summation order only.
TIGHT = dict(rtol=1e-9, atol=1e-12)


def seeded_attacks(model: Optional[nn.Module] = None, **settings
                   ) -> Tuple[GradInversion, GradInversion]:
    """(loop, batched) attacks on the same target, seed and start.

    Neither is pooled unless ``pooled_seeds`` says so. Three 8-px images
    with labels 1, 4, 0 are the target; 3 seeds, cosine distance, every
    term on, group consistency from step 2.

    Args:
        model (nn.Module, optional): The victim (float64, eval mode);
            :func:`tiny_bn_classifier` by default.
        **settings: :class:`InversionSettings` fields to override.
    """
    model = model if model is not None else tiny_bn_classifier()
    images = torch.rand(3, *SHAPE, dtype=torch.float64,
                        generator=torch.Generator().manual_seed(1)) * 2 - 1
    labels = torch.tensor([1, 4, 0])
    targets = batch_gradients(model, images, labels)
    fields = dict(iterations=20, warmup=2, num_seeds=3, group_start=2,
                  group_every=2, grad_distance='cosine', grad_weight=1.0,
                  bn_weight=0.1, tv_weight=1e-2, l2_weight=1e-3,
                  group_weight=1e-2, noise=0.2, lr=0.05, pooled_seeds=False)
    fields.update(settings)
    return tuple(
        GradInversion(model, targets, labels, SHAPE, LOWER, UPPER,
                      InversionSettings(**{'batched_seeds': batched,
                                           **fields}))
        for batched in (False, True))


def distinct_seeds(*attacks: GradInversion) -> torch.Tensor:
    """Give every attack the same seeds, each with its own mean and
    spread (pooled statistics or gradients would then differ from every
    seed's own); return them [G, N, C, H, W]."""
    base = attacks[0].images.detach().clone()
    for g in range(base.shape[0]):
        base[g] = base[g] * (0.5 + g) + 0.4 * g - 0.3
    for attack in attacks:
        with torch.no_grad():
            attack.images.copy_(base)
    return base


def take_the_same_steps(reference: GradInversion,
                        other: GradInversion) -> dict:
    """Step both 5 times (group consensus from step 2, noise every step);
    assert equal losses, images and best images; return the last losses."""
    for _ in range(5):
        expected = reference.step()
        got = other.step()
        assert got.keys() == expected.keys()
        for key, value in expected.items():
            assert math.isclose(got[key], value, rel_tol=1e-9,
                                abs_tol=1e-12), (key, got[key], value)
    torch.testing.assert_close(other.images, reference.images, **TIGHT)
    torch.testing.assert_close(other.best_images, reference.best_images,
                               **TIGHT)
    return got
