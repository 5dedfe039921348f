"""Zero-shot direct inversion of a classifier's first layers (Dong, Yin,
Alvarez, Kautz, Molchanov, "Deep Neural Networks are Surprisingly
Reversible: A Baseline for Zero-Shot Inversion", arXiv 2107.06304; BMVC
2022 as "Privacy Vulnerability of Split Computing to Data-Free Model
Inversion Attacks").

A thin registered model around :mod:`mmext.inversion.direct`: the frozen
target's blocks up to the split, one :class:`InverseBlock` per block, and
the two training stages of :mod:`mmext.inversion.direct.losses`.
"""
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from torch import Tensor, nn

from mmext.inversion.direct.inverse_block import InverseBlock
from mmext.inversion.direct.losses import (block_losses, chain_losses,
                                           invert_chain, target_activations)
from mmext.inversion.direct.target import build_target, pixel_normalisation
from mmext.inversion.split import blocks_until
from mmext.registry import MODELS

__all__ = ['DirectInverter']

LOSS_TERMS = ('reconstruction', 'cycle', 'image')


def _check_loss_weights(loss_weights: Optional[dict]) -> Dict[str, float]:
    weights = dict(reconstruction=1.0, cycle=1.0, image=1.0)
    unknown = sorted(set(loss_weights or {}) - set(LOSS_TERMS))
    if unknown:
        raise ValueError(f'model.loss_weights: unknown terms {unknown}; '
                         f'the terms are {list(LOSS_TERMS)}')
    weights.update({k: float(v) for k, v in (loss_weights or {}).items()})
    negative = [k for k, v in weights.items() if v < 0]
    if negative:
        raise ValueError(f'model.loss_weights: {negative} must be >= 0')
    return weights


def _check_image_size(image_size: Sequence[int]) -> tuple:
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    if isinstance(image_size, str) or len(image_size) != 2 or any(
            int(v) < 1 for v in image_size):
        raise ValueError('model.image_size: the (H, W) of the images the '
                         f'device sees, got {image_size!r}')
    return tuple(int(v) for v in image_size)


def _preprocessor_cfg(data_preprocessor: Optional[dict]) -> Optional[dict]:
    """A data preprocessor config with a type: a top-level one (mmpretrain's
    configs set ``data_preprocessor`` beside the model, without a type)
    is mmpretrain's ``ClsDataPreprocessor``."""
    if isinstance(data_preprocessor, dict) and \
            'type' not in data_preprocessor:
        return dict(data_preprocessor, type='mmpretrain.ClsDataPreprocessor')
    return data_preprocessor


def _check_same_normalisation(model: nn.Module, target: nn.Module) -> None:
    """The inverter must normalise images as the target does."""
    mine, theirs = pixel_normalisation(model), pixel_normalisation(target)
    same = mine[2] == theirs[2] and all(
        torch.allclose(a, b) for a, b in zip(mine[:2], theirs[:2]))
    if not same:
        raise ValueError(
            'model.data_preprocessor: its mean, std and channel order must '
            f'be the target\'s (mean {theirs[0].tolist()}, std '
            f'{theirs[1].tolist()}, swap channels {theirs[2]}); leave it '
            'out to use the target\'s')


@MODELS.register_module()
class DirectInverter(BaseModel):
    """A feed-forward inverse of a frozen classifier up to ``split``.

    Training runs two stages by iteration (``stage1_iters``): per-block
    inversion with the cycle term through the frozen block, then the
    composed inverses fine-tuned end to end (see
    :mod:`mmext.inversion.direct.losses`). The data may be synthetic
    (:class:`mmext.SyntheticInversionDataset`, the zero-shot attack) or a
    real image dataset (the upper bound an attacker does not have).

    ``predict`` is the attack on images: their split features, inverted in
    one forward pass; ``invert`` maps features to images. The target is
    frozen and kept out of the module tree (no optimizer, DDP or checkpoint
    entry); checkpoints carry the inverse modules.

    Assumptions (the paper's body is not public): the block partition
    (ResNet stem and residual blocks, :mod:`mmext.inversion.split`), the
    inverse architecture (:class:`InverseBlock`), mean squared errors and
    the stage-2 terms. Each is switchable: ``width``, ``loss_weights``
    (0 switches a term off), ``stage1_iters``.

    Args:
        target: The classifier under attack: ``dict(config=PATH,
            checkpoint=PATH)``, or a model config with an optional
            ``checkpoint`` key.
        split: The layer whose output the attacker sees (``'stem'``,
            ``'layer1'`` .. ``'layer4'`` or a block such as
            ``'layer2.0'``).
        image_size: ``(H, W)`` of the device's images (the inverse modules
            map back to exactly this size).
        stage1_iters: Training iterations of stage 1; stage 2 runs from
            there to the end. None: stage 1 throughout.
        width: Channels inside each inverse module; None takes the larger
            of the block's input and output channels.
        loss_weights: Weights of ``reconstruction`` (stage 1: each block's
            input; stage 2: the intermediate depths), ``cycle`` (through
            the frozen blocks, both stages) and ``image`` (stage 2).
        data_preprocessor: None uses the target's (its normalisation).
        init_cfg: MMEngine initialisation config.
    """

    def __init__(self,
                 target: Union[dict, nn.Module],
                 split: str,
                 image_size: Sequence[int],
                 stage1_iters: Optional[int] = None,
                 width: Optional[int] = None,
                 loss_weights: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        self.loss_weights = _check_loss_weights(loss_weights)
        self.image_size = _check_image_size(image_size)
        if stage1_iters is not None and int(stage1_iters) < 0:
            raise ValueError('model.stage1_iters: iterations of stage 1, '
                             f'>= 0 or None, got {stage1_iters}')
        classifier = build_target(target, 'model.target')
        super().__init__(
            data_preprocessor=_preprocessor_cfg(data_preprocessor) or
            classifier.data_preprocessor,
            init_cfg=init_cfg)
        _check_same_normalisation(self, classifier)
        object.__setattr__(self, '_target', classifier)  # not a submodule
        self.split = split
        self.stage1_iters = stage1_iters
        #: Forces a stage (1 or 2); None follows ``stage1_iters``.
        self.stage: Optional[int] = None
        named = blocks_until(classifier, split)
        self.block_names = [name for name, _ in named]
        self._blocks = [block for _, block in named]
        shapes = self._probe_shapes()
        self.feature_shape = shapes[-1]
        self.inverses = nn.ModuleList(
            InverseBlock(shapes[i], shapes[i + 1], width)
            for i in range(len(self._blocks)))
        mean, std, _ = pixel_normalisation(classifier)
        self.register_buffer('_pixel_mean', mean.view(1, -1, 1, 1) / 255,
                             persistent=False)
        self.register_buffer('_pixel_std', std.view(1, -1, 1, 1) / 255,
                             persistent=False)

    def _probe_shapes(self) -> List[tuple]:
        """``(C, H, W)`` of the image and of every block's output."""
        x = torch.zeros(1, 3, *self.image_size)
        shapes = [tuple(x.shape[1:])]
        with torch.no_grad():
            for block in self._blocks:
                x = block(x)
                shapes.append(tuple(x.shape[1:]))
        return shapes

    @property
    def target(self) -> nn.Module:
        """The frozen classifier under attack."""
        return self._target

    def current_stage(self) -> int:
        """1 or 2: :attr:`stage` if set, else from the runner's iteration
        (MMEngine's message hub) against ``stage1_iters``."""
        if self.stage is not None:
            return self.stage
        if self.stage1_iters is None:
            return 1
        iteration = MessageHub.get_current_instance().get_info('iter', 0)
        return 1 if iteration < self.stage1_iters else 2

    def features(self, images: Tensor) -> Tensor:
        """What the device sends: ``[N, 3, H, W]`` normalised images ->
        ``[N, C, h, w]`` split features (no gradient)."""
        return target_activations(self._blocks, images)[-1]

    def invert(self, features: Tensor) -> Tensor:
        """The images of split ``features`` in one forward pass.

        Args:
            features: ``[N, C, h, w]``, :attr:`feature_shape` per image.

        Returns:
            ``[N, 3, H, W]`` in the target's normalised input space.

        Raises:
            ValueError: ``features`` have another shape.
        """
        if features.dim() != 4 or tuple(
                features.shape[1:]) != self.feature_shape:
            raise ValueError(
                f'DirectInverter.invert: features must be [N, '
                f'{", ".join(map(str, self.feature_shape))}] (split='
                f'{self.split!r} at image_size={self.image_size}), got '
                f'{list(features.shape)}')
        return invert_chain(self.inverses, features)[0]

    def invert_by_optimisation(self, features: Tensor,
                               **settings) -> Tensor:
        """The optimisation baseline on the same target and split:
        :func:`mmext.inversion.invert_features` with the valid pixel range.

        Args:
            features: ``[N, C, h, w]`` split features.
            **settings: Its keyword arguments (``iterations``, ``lr``,
                ``tv_weight``, ``bn_weight``, ...).

        Returns:
            ``[N, 3, H, W]`` in the target's normalised input space.
        """
        from mmext.inversion import invert_features
        lower = (0 - self._pixel_mean) / self._pixel_std
        upper = (1 - self._pixel_mean) / self._pixel_std
        return invert_features(
            self._target, self.split, features, (3, *self.image_size),
            lower=lower.flatten(), upper=upper.flatten(), **settings)

    def to_unit_normalised(self, pixels: Tensor) -> Tensor:
        """[0, 1] pixels (the model's channel order) -> normalised."""
        return (pixels - self._pixel_mean) / self._pixel_std

    def to_pixels(self, images: Tensor) -> Tensor:
        """Normalised images -> [0, 1] pixels (the model's channel order),
        clamped."""
        return (images * self._pixel_std + self._pixel_mean).clamp(0, 1)

    def loss(self, inputs: Tensor, data_samples=None) -> Dict[str, Tensor]:
        """The current stage's weighted losses on a batch of images.

        Args:
            inputs: ``[N, 3, H, W]`` normalised (synthetic or real).
            data_samples: Unused (labels play no part).

        Returns:
            ``loss_*`` terms and ``stage`` (logged, not optimised).
        """
        activations = target_activations(self._blocks, inputs)
        weights = self.loss_weights
        with_cycle = weights['cycle'] > 0
        stage = self.current_stage()
        if stage == 1:
            terms = block_losses(self._blocks, self.inverses, activations,
                                 with_cycle)
        else:
            terms = chain_losses(self._blocks, self.inverses, activations,
                                 with_cycle)
        losses = {f'loss_{name}': weights[name] * value
                  for name, value in terms.items()
                  if weights[name] > 0 or name == 'reconstruction'}
        losses['stage'] = inputs.new_tensor(float(stage))
        return losses

    def predict(self, inputs: Tensor, data_samples=None) -> List[dict]:
        """Invert the split features of ``inputs``.

        Returns:
            One dict per image: ``recovered`` and ``original``, ``[3, H,
            W]`` in [0, 1] (what :class:`mmext.ImageReconstructionMetric`
            reads).
        """
        recovered = self.to_pixels(self.invert(self.features(inputs)))
        original = self.to_pixels(inputs)
        return [dict(recovered=r, original=o)
                for r, o in zip(recovered.detach(), original)]

    def forward(self, inputs: Tensor, data_samples=None,
                mode: str = 'tensor'):
        """MMEngine's entry: ``'loss'``, ``'predict'`` or ``'tensor'`` (the
        normalised inversions ``[N, 3, H, W]``)."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.invert(self.features(inputs))
        raise RuntimeError(f'DirectInverter: invalid mode {mode!r}; use '
                           "'loss', 'predict' or 'tensor'")

    def _apply(self, fn, *args, **kwargs):
        """``to`` / ``cuda`` / ``float`` ... move the target as well."""
        super()._apply(fn, *args, **kwargs)
        self._target._apply(fn, *args, **kwargs)
        return self

    def train(self, mode: bool = True) -> 'DirectInverter':
        """Set the inverses' mode; the target stays in eval mode."""
        super().train(mode)
        self._target.eval()
        return self
