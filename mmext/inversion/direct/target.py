"""The model under attack in zero-shot direct inversion (Dong et al.,
"Deep Neural Networks are Surprisingly Reversible: A Baseline for Zero-Shot
Inversion", arXiv 2107.06304): a trained classifier, frozen, whose weights
the attacker has."""
import os.path as osp
from typing import Tuple, Union

import torch
from mmengine.runner.checkpoint import load_checkpoint
from torch import nn

__all__ = ['build_target', 'pixel_normalisation']


def _check_checkpoint(checkpoint, field: str) -> None:
    if checkpoint is not None and (not isinstance(checkpoint, str) or (
            '://' not in checkpoint and not osp.isfile(checkpoint))):
        raise FileNotFoundError(
            f'{field}.checkpoint: no file {checkpoint!r}; pass the '
            'classifier\'s trained weights (a .pth written by '
            'tools/train.py), or None for its initial weights')


def build_target(target: Union[dict, nn.Module],
                 field: str = 'target') -> nn.Module:
    """Build the attacked classifier, load its weights and freeze it.

    Args:
        target: ``dict(config=PATH, checkpoint=PATH)`` naming the config
            the classifier was trained with and its weights; or a model
            config (``type`` mmpretrain's ``ImageClassifier`` by default)
            with an optional ``checkpoint`` key; or a built module.
        field: The config field, for error messages.

    Returns:
        The classifier in eval mode with no trainable parameter.

    Raises:
        FileNotFoundError: The config or checkpoint file does not exist.
        TypeError: ``target`` is neither a dict nor a module.
    """
    from mmext.models.utils.classifier_cfg import classifier_model_cfg
    from mmext.registry import MODELS
    if isinstance(target, nn.Module):
        model = target
    elif isinstance(target, dict):
        cfg = dict(target)
        checkpoint = cfg.pop('checkpoint', None)
        _check_checkpoint(checkpoint, field)
        config = cfg.pop('config', None)
        if config is not None:
            if not isinstance(config, str) or not (
                    '::' in config or osp.isfile(config)):
                raise FileNotFoundError(
                    f'{field}.config: no config {config!r}; name the config '
                    'the classifier was trained with')
            cfg['cfg_path'] = config
        model = MODELS.build(classifier_model_cfg(cfg, field))
        if checkpoint is not None:
            load_checkpoint(model, checkpoint, map_location='cpu',
                            strict=True, logger='current')
    else:
        raise TypeError(f'{field}: a dict(config=..., checkpoint=...), a '
                        f'model config or a module, got '
                        f'{type(target).__name__}')
    model.eval()  # some backbones' train() return None: no chaining
    model.requires_grad_(False)
    return model


def pixel_normalisation(
        model: nn.Module) -> Tuple[torch.Tensor, torch.Tensor, bool]:
    """How the classifier's ``data_preprocessor`` turns stored pixels into
    its input.

    Returns:
        ``(mean, std, swap_channels)``: ``mean``/``std`` ``[C]`` in
        0-255 pixel units (CPU), and whether the preprocessor reverses the
        channel order (``to_rgb`` of BGR-stored images).

    Raises:
        ValueError: The preprocessor does not normalise.
    """
    pre = getattr(model, 'data_preprocessor', None)
    if pre is None or not getattr(pre, '_enable_normalize', False):
        raise ValueError(
            'target: the classifier\'s data_preprocessor has no mean and '
            'std; inversion works in pixels, so set data_preprocessor=dict('
            'mean=..., std=...)')
    # mmpretrain's ClsDataPreprocessor keeps to_rgb, MMEngine's
    # ImgDataPreprocessor _channel_conversion.
    swap = bool(getattr(pre, 'to_rgb', False) or
                getattr(pre, '_channel_conversion', False))
    return pre.mean.flatten().cpu(), pre.std.flatten().cpu(), swap
