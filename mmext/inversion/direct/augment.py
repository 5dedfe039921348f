"""Random augmentation of the synthetic training images of zero-shot direct
inversion (Dong et al., arXiv 2107.06304).

A fixed set of synthesised images is small next to the variety of real
images; varying them at every draw widens what the inverse modules see
without any real data. The augmentations are mmext's assumption (the paper
does not publish how it uses its synthetic data): random horizontal and
vertical flips, a random translation with reflected borders, and CutMix
(Yun et al., "CutMix: Regularization Strategy to Train Strong Classifiers
with Localizable Features", ICCV 2019) without labels: a random box pasted
from another synthetic image, which adds sharp edges and flat regions that
optimised images rarely have.
"""
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from mmext.utils.validation import is_int_at_least

__all__ = ['SyntheticAugment']


@dataclass(frozen=True)
class SyntheticAugment:
    """The random augmentation of one synthetic image.

    Attributes:
        flip: Flip horizontally and, independently, vertically, each with
            probability 1/2.
        max_shift: Translate by up to this many pixels along each axis
            (uniform integers), filling the border by reflection; 0: none.
        cutmix_prob: Probability of pasting a box from a partner image; the
            box's sides are uniform in [1/4, 1/2] of the image's, its
            position uniform.
    """
    flip: bool = True
    max_shift: int = 0
    cutmix_prob: float = 0.0

    @classmethod
    def from_cfg(cls, cfg: Optional[dict],
                 field: str = 'augment') -> Optional['SyntheticAugment']:
        """Build from a config dict; None stays None.

        Raises:
            ValueError: An unknown key or an invalid value (the message
                names ``field.key``).
        """
        if cfg is None:
            return None
        if not isinstance(cfg, dict):
            raise ValueError(f'{field}: a dict with keys flip, max_shift, '
                             f'cutmix_prob (or None), got {cfg!r}')
        allowed = ('flip', 'max_shift', 'cutmix_prob')
        unknown = sorted(set(cfg) - set(allowed))
        if unknown:
            raise ValueError(f'{field}: unknown keys {unknown}; allowed: '
                             f'{list(allowed)}')
        augment = cls(**cfg)
        if not isinstance(augment.flip, bool):
            raise ValueError(f'{field}.flip: True or False, got '
                             f'{augment.flip!r}')
        if not is_int_at_least(augment.max_shift, 0):
            raise ValueError(f'{field}.max_shift: an int >= 0 (pixels), got '
                             f'{augment.max_shift!r}')
        if not 0.0 <= augment.cutmix_prob <= 1.0:
            raise ValueError(f'{field}.cutmix_prob: a probability in [0, 1], '
                             f'got {augment.cutmix_prob!r}')
        return augment

    def __call__(self,
                 image: Tensor,
                 partner: Optional[Tensor] = None,
                 generator: Optional[torch.Generator] = None) -> Tensor:
        """Augment one image.

        Args:
            image: ``[C, H, W]``, any dtype (uint8 pixels stay uint8).
            partner: ``[C, H, W]``, the image CutMix pastes from; None
                skips CutMix.
            generator: Random source (None: torch's global generator).

        Returns:
            ``[C, H, W]``, the dtype of ``image``.
        """
        height, width = image.shape[-2:]
        out = image
        if self.flip:
            if _chance(0.5, generator):
                out = out.flip(-1)
            if _chance(0.5, generator):
                out = out.flip(-2)
        shift = min(self.max_shift, height - 1, width - 1)
        if shift > 0:
            dy, dx = torch.randint(-shift, shift + 1, (2, ),
                                   generator=generator).tolist()
            padded = F.pad(out[None].float(), (shift, ) * 4, mode='reflect')
            top, left = shift + dy, shift + dx
            out = padded[0, :, top:top + height,
                         left:left + width].to(image.dtype)
        if (partner is not None and min(height, width) >= 2
                and _chance(self.cutmix_prob, generator)):
            box_h = int(torch.randint(max(1, height // 4), height // 2 + 1,
                                      (), generator=generator))
            box_w = int(torch.randint(max(1, width // 4), width // 2 + 1, (),
                                      generator=generator))
            top = int(torch.randint(0, height - box_h + 1, (),
                                    generator=generator))
            left = int(torch.randint(0, width - box_w + 1, (),
                                     generator=generator))
            out = out.clone()
            out[:, top:top + box_h, left:left + box_w] = \
                partner[:, top:top + box_h, left:left + box_w]
        return out


def _chance(probability: float,
            generator: Optional[torch.Generator]) -> bool:
    """True with ``probability``."""
    return probability > 0 and bool(
        torch.rand((), generator=generator) < probability)
