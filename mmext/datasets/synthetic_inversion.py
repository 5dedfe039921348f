"""Synthetic training images for zero-shot direct inversion (Dong et al.,
"Deep Neural Networks are Surprisingly Reversible: A Baseline for Zero-Shot
Inversion", arXiv 2107.06304; BMVC 2022 as "Privacy Vulnerability of Split
Computing to Data-Free Model Inversion Attacks"): the attacker has the
classifier's weights but no image of its task."""
import dataclasses
import inspect
import os.path as osp
from typing import Dict, List, Optional, Tuple, Union

import torch
from mmengine.device import get_device
from mmengine.dist import barrier, get_rank, get_world_size
from mmengine.logging import print_log
from torch import Tensor, nn

from mmext.inversion.direct.augment import SyntheticAugment
from mmext.inversion.direct.synthetic import (bn_synthesized_images,
                                              check_batchnorm,
                                              check_image_size,
                                              natural_noise_images)
from mmext.inversion.direct.target import build_target, pixel_normalisation
from mmext.registry import DATASETS
from mmext.utils.atomic import atomic_torch_save
from mmext.utils.validation import is_int_at_least

__all__ = ['SyntheticInversionDataset', 'noise_item_seed', 'stored_pixels']

#: The image sources: generated noise, or DeepInversion images.
SOURCES = ('noise', 'bn')
#: Version of the cache file's layout.
_CACHE_VERSION = 1
#: Synthesis arguments that do not change the images.
_NOT_IN_SETTINGS = ('progress', 'device')


def noise_item_seed(seed: int, index: int) -> int:
    """Seed of the generator of ``source='noise'`` item ``index``."""
    return seed * 1_000_003 + index


def _keyword_names(fn, exclude: Tuple[str, ...]) -> List[str]:
    """Names of ``fn``'s parameters, less ``exclude``."""
    return [name for name in inspect.signature(fn).parameters
            if name not in exclude]


#: The ``synthesis`` keys of each source.
_SYNTHESIS_KEYS = dict(
    noise=_keyword_names(natural_noise_images, ('num', 'size', 'generator')),
    bn=_keyword_names(bn_synthesized_images, ('model', 'num', 'size', 'seed')))


def _plain(value):
    """``value`` with tuples as lists and mappings as dicts (comparable
    after a save and a load)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def stored_pixels(pixels: Tensor, swap_channels: bool) -> Tensor:
    """Model-order 0-255 pixels as the dataset stores them.

    Args:
        pixels: ``[..., 3, H, W]`` float, 0-255, in the classifier's
            channel order.
        swap_channels: Whether the ``data_preprocessor`` reverses the
            channels (``to_rgb``: stored BGR).

    Returns:
        ``[..., 3, H, W]`` uint8, rounded, channels reversed if
        ``swap_channels``.
    """
    stored = pixels.round().clamp(0, 255).to(torch.uint8)
    return stored.flip(-3) if swap_channels else stored


@DATASETS.register_module()
class SyntheticInversionDataset(torch.utils.data.Dataset):
    """Images made from the attacked classifier alone, never from its data.

    Zero-shot direct inversion (Dong et al., arXiv 2107.06304) trains
    inverse modules on synthesised images because the attacker has none of
    the task's. How the paper synthesises them is not public; the two
    sources are mmext's assumptions:

    - ``'noise'``: ``natural_noise_images`` (of
      :mod:`mmext.inversion.direct.synthetic`), random-phase noise with a
      ``1 / f^alpha`` amplitude spectrum (``alpha`` per image in [1, 2]),
      channels mixed from a shared luminance field and weaker per-channel
      fields, random contrast and brightness (all assumptions). Item ``i``
      is generated on the fly from a generator seeded
      ``noise_item_seed(seed, i)``: nothing is stored and every epoch sees
      the same images; ``num_images`` is the epoch length.
    - ``'bn'``: ``bn_synthesized_images``, DeepInversion (Yin et al., CVPR
      2020): the BN-statistics prior, total variation, L2 and a
      cross-entropy to random labels, with random jitter and flips; the
      loss weights, jitter and schedule default to DeepInversion's
      ImageNet code's (all assumptions: the paper does not confirm it uses
      DeepInversion). All ``num_images`` are synthesised once, at
      construction, and held as uint8.

    Items are ``dict(inputs=uint8 Tensor[3, H, W])`` in the pixel order
    the target's ``data_preprocessor`` expects: its channel swap
    (``to_rgb``) and normalisation give back the synthesised images (up to
    the uint8 rounding), so the classifier sees what was synthesised.

    With ``cache_file``, ``'bn'`` images are loaded from it when it exists
    and was written with the same settings (source, number, size, seed,
    synthesis arguments except ``progress``/``device``, the target's
    checkpoint path), else synthesised and written to it atomically. Under
    MMEngine distributed training, rank 0 synthesises and writes the cache
    while the other ranks wait at a barrier (so the process group's
    timeout must exceed the synthesis time; or build the cache once in a
    single process) and then load it. Without ``cache_file`` every rank
    synthesises, with the same seed, the same images (up to
    nondeterministic GPU kernels).

    The task's data is never read: only the target's config and
    checkpoint are.

    Args:
        target: The attacked classifier as the model gets it:
            ``dict(config=PATH, checkpoint=PATH)``, a model config, or a
            module (:func:`~mmext.inversion.direct.target.build_target`).
        source: ``'noise'`` or ``'bn'``.
        num_images: Number of images (the epoch length). Required.
        image_size: ``(H, W)``, the size the target classifies (its
            training crop). Required.
        seed: Seed of the images.
        cache_file: ``'bn'`` only: a ``.pth`` holding the images (written
            if missing).
        synthesis: Keyword arguments of ``natural_noise_images``
            (``'noise'``: ``alpha_range``, ``channel_weight``,
            ``contrast_range``) or of ``bn_synthesized_images`` (``'bn'``:
            ``steps``, ``lr``, ``batch_size``, the loss weights, ...;
            ``device`` defaults to MMEngine's ``get_device()``, the
            accelerator when there is one).
        augment: None (items as made) or ``dict(flip=..., max_shift=...,
            cutmix_prob=...)``: every item drawn is augmented afresh
            (:class:`~mmext.inversion.direct.augment.SyntheticAugment`;
            CutMix pastes from another random item), with torch's global
            random generator (seeded by MMEngine's ``randomness``). The
            stored or cached images are never changed.

    Raises:
        ValueError: An argument is invalid (the message names it), the
            target has no BatchNorm for ``'bn'``, or ``cache_file`` holds
            other settings.
    """

    def __init__(self,
                 target: Union[dict, nn.Module],
                 source: str = 'noise',
                 *,
                 num_images: int,
                 image_size: Tuple[int, int],
                 seed: int = 0,
                 cache_file: Optional[str] = None,
                 synthesis: Optional[dict] = None,
                 augment: Optional[dict] = None) -> None:
        self.augment = SyntheticAugment.from_cfg(augment)
        self.source = source
        self.num_images = num_images
        self.image_size = self._check_args(source, num_images, image_size,
                                           cache_file, synthesis or {})
        self.seed = seed
        self.cache_file = cache_file
        self.synthesis = dict(synthesis or {})
        self.checkpoint = target.get('checkpoint') if isinstance(
            target, dict) else None
        model = build_target(target, 'target')
        if source == 'bn':
            check_batchnorm(model)
        self.mean, self.std, self.swap_channels = pixel_normalisation(model)
        self.images: Optional[Tensor] = None
        if source == 'bn':
            self.images = self._bn_images(model)

    @staticmethod
    def _check_args(source: str, num_images: int, image_size,
                    cache_file: Optional[str],
                    synthesis: dict) -> Tuple[int, int]:
        """Validate the arguments; return ``image_size`` as ``(H, W)``."""
        if source not in SOURCES:
            raise ValueError(f'source: one of {SOURCES}, got {source!r}')
        if not is_int_at_least(num_images, 1):
            raise ValueError(
                f'num_images: a positive int (the epoch length), got '
                f'{num_images!r}')
        image_size = check_image_size(image_size, 'image_size')
        if cache_file is not None and source != 'bn':
            raise ValueError(
                f"cache_file: only source='bn' images are cached (source="
                f"{source!r} makes each item on the fly); set cache_file="
                'None')
        allowed = _SYNTHESIS_KEYS[source]
        unknown = sorted(set(synthesis) - set(allowed))
        if unknown:
            raise ValueError(
                f'synthesis: unknown keys {unknown} for source={source!r}; '
                f'allowed: {allowed} (the seed is the dataset\'s `seed`)')
        return image_size

    @property
    def metainfo(self) -> dict:
        """The images' description (no classes: the items are unlabelled)."""
        return dict(source=self.source, num_images=self.num_images,
                    image_size=self.image_size, seed=self.seed,
                    augment=None if self.augment is None else
                    dataclasses.asdict(self.augment))

    def __len__(self) -> int:
        return self.num_images

    def __getitem__(self, index: int) -> Dict[str, Tensor]:
        """``dict(inputs=uint8 Tensor[3, H, W])``, stored pixel order
        (augmented afresh if ``augment`` is set)."""
        if not -self.num_images <= index < self.num_images:
            raise IndexError(f'SyntheticInversionDataset: index {index} out '
                             f'of range for {self.num_images} images')
        image = self.image(index % self.num_images)
        if self.augment is not None:
            partner = None
            if self.augment.cutmix_prob > 0:
                partner = self.image(
                    int(torch.randint(self.num_images, ())))
            image = self.augment(image, partner)
        return dict(inputs=image)

    def image(self, index: int) -> Tensor:
        """Image ``index`` as made (never augmented), uint8 ``[3, H, W]``
        in the stored pixel order."""
        if self.images is not None:
            return self.images[index]
        generator = torch.Generator().manual_seed(
            noise_item_seed(self.seed, index))
        images = natural_noise_images(1, self.image_size, generator,
                                      **self.synthesis)
        return stored_pixels(255 * images[0], self.swap_channels)

    # ------------------------------------------------------------ 'bn'
    def _synthesize(self, model: nn.Module, progress: bool) -> Tensor:
        """All images by DeepInversion, ``[N, 3, H, W]`` uint8 stored."""
        print_log(
            f'SyntheticInversionDataset: synthesising {self.num_images} '
            f'{self.image_size} images by DeepInversion (seed {self.seed})',
            logger='current')
        kwargs = dict(progress=progress, device=get_device())
        kwargs.update(self.synthesis)
        images = bn_synthesized_images(model, self.num_images,
                                       self.image_size, seed=self.seed,
                                       **kwargs)
        pixels = images * self.std.view(-1, 1, 1) + self.mean.view(-1, 1, 1)
        return stored_pixels(pixels, self.swap_channels)

    def _settings(self) -> dict:
        """What the cached images depend on."""
        synthesis = {k: v for k, v in self.synthesis.items()
                     if k not in _NOT_IN_SETTINGS}
        return _plain(dict(version=_CACHE_VERSION, source=self.source,
                           num_images=self.num_images,
                           image_size=self.image_size, seed=self.seed,
                           synthesis=synthesis,
                           checkpoint=None if self.checkpoint is None else
                           str(self.checkpoint)))

    def _load_cache(self) -> Tensor:
        """The images of ``cache_file``; ValueError if its settings
        differ."""
        try:
            saved = torch.load(self.cache_file, map_location='cpu',
                               weights_only=True)
        except Exception as exc:  # noqa: BLE001  (any unreadable file)
            raise ValueError(
                f'cache_file: cannot read {self.cache_file!r} as a cache '
                f'({type(exc).__name__}); '
                'delete the file or set another cache_file') from exc
        settings = self._settings()
        if not isinstance(saved, dict) or saved.get('settings') != settings:
            old = saved.get('settings', {}) if isinstance(saved, dict) else {}
            differ = sorted(k for k in set(settings) | set(old)
                            if settings.get(k) != old.get(k))
            raise ValueError(
                f'cache_file: {self.cache_file!r} holds images made with '
                f'other settings ({", ".join(differ) or "not a cache file"}'
                f'; saved {[old.get(k) for k in differ]}, now '
                f'{[settings.get(k) for k in differ]}); delete the file or '
                'set another cache_file')
        print_log(f'SyntheticInversionDataset: loaded {self.num_images} '
                  f'images from {self.cache_file}', logger='current')
        return saved['images']

    def _bn_images(self, model: nn.Module) -> Tensor:
        """Synthesise, or load and (rank 0) write, the ``'bn'`` images."""
        rank = get_rank()
        if self.cache_file is None:
            return self._synthesize(model, progress=rank == 0)
        images, error = None, None
        if rank == 0:
            try:
                if osp.exists(self.cache_file):
                    images = self._load_cache()
                else:
                    images = self._synthesize(model, progress=True)
                    atomic_torch_save(
                        dict(settings=self._settings(), images=images),
                        self.cache_file)
            except Exception as exc:  # noqa: BLE001  (raised after barrier)
                error = exc
        if get_world_size() > 1:
            barrier()  # rank 0 has written the cache, or failed
        if error is not None:
            raise error
        if images is None:
            if not osp.isfile(self.cache_file):
                raise RuntimeError(
                    f'cache_file: rank 0 did not write {self.cache_file!r} '
                    '(see its error)')
            images = self._load_cache()
        return images
