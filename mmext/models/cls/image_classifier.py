"""A small single-label image classifier for OpenMMLab configs.

mmext does not depend on mmpretrain (it imports torchvision, which cannot be
installed beside the CPU torch), so this is the glue that turns any
registered backbone (``mmdet.ResNet``, mmext's own backbones, ...) into a
classifier the MMEngine runners can train, validate and test.
"""
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.model import BaseModel
from torch import nn

from mmext.registry import MODELS
from mmext.structures import ClsDataSample
from .linear_head import LinearClsHead, global_avg_pool

ConfigOrModule = Union[dict, nn.Module]


def _build(cfg: ConfigOrModule) -> nn.Module:
    """Build a sub-module from a config; pass modules through."""
    return cfg if isinstance(cfg, nn.Module) else MODELS.build(cfg)


@MODELS.register_module()
class ImageClassifier(BaseModel):
    """Backbone, optional neck, global average pooling and a linear head.

    The last feature map the backbone (or neck) returns is pooled to
    [N, C]; a linear layer maps it to [N, K] logits, trained with
    cross-entropy (optionally label-smoothed).

    Args:
        backbone (dict | nn.Module): Backbone config, e.g.
            ``dict(type='mmdet.ResNet', depth=18, norm_eval=False)``; built
            with mmext's ``MODELS`` registry, so scope-prefixed types resolve
            from any default scope. A module is used as is.
        num_classes (int): Number of classes K.
        in_channels (int): Channels C of the last backbone/neck feature map
            (512 for ResNet-18/34, 2048 for ResNet-50). A mismatch raises a
            ``ValueError`` at the first forward.
        neck (dict | nn.Module, optional): Neck config. Defaults to None.
        dropout (float): Dropout before the linear layer. Defaults to 0.
        label_smoothing (float): Label smoothing of the cross-entropy.
            Defaults to 0.
        data_preprocessor (dict, optional): Data preprocessor config, e.g.
            ``dict(type='ImgDataPreprocessor', mean=..., std=...,
            bgr_to_rgb=True)``. Defaults to None (``BaseDataPreprocessor``).
        init_cfg (dict | list[dict], optional): Initialisation config.
            Defaults to None.

    Examples:
        >>> from mmengine.registry import MODELS, init_default_scope
        >>> init_default_scope('mmdet')
        >>> model = MODELS.build(dict(
        ...     type='mmext.ImageClassifier',
        ...     backbone=dict(type='mmdet.ResNet', depth=18),
        ...     in_channels=512, num_classes=8))
        >>> model(torch.rand(2, 3, 32, 32)).shape
        torch.Size([2, 8])
    """

    def __init__(self,
                 backbone: ConfigOrModule,
                 num_classes: int,
                 in_channels: int,
                 neck: Optional[ConfigOrModule] = None,
                 dropout: float = 0.0,
                 label_smoothing: float = 0.0,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = _build(backbone)
        self.neck = _build(neck) if neck is not None else None
        self.head = LinearClsHead(
            in_channels=in_channels,
            num_classes=num_classes,
            dropout=dropout,
            label_smoothing=label_smoothing)

    @property
    def num_classes(self) -> int:
        """int: Number of classes K."""
        return self.head.num_classes

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """Pooled features of the last backbone/neck feature map.

        Args:
            inputs (Tensor): Normalised images, shape [N, 3, H, W].

        Returns:
            Tensor: Features, shape [N, C] with C = ``in_channels``.

        Raises:
            ValueError: If C differs from ``in_channels``.
        """
        x = self.backbone(inputs)
        if self.neck is not None:
            x = self.neck(x)
        if isinstance(x, (tuple, list)):
            x = x[-1]
        feats = global_avg_pool(x)  # [N, C]
        if feats.shape[1] != self.head.in_channels:
            raise ValueError(
                f'ImageClassifier: in_channels={self.head.in_channels} but '
                f'the last backbone/neck feature map has {feats.shape[1]} '
                f'channels; set in_channels={feats.shape[1]} in the model '
                'config')
        return feats

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[ClsDataSample]] = None,
                mode: str = 'tensor'
                ) -> Union[torch.Tensor, Dict[str, torch.Tensor],
                           List[ClsDataSample]]:
        """The MMEngine model contract.

        Args:
            inputs (Tensor): Normalised images, shape [N, 3, H, W].
            data_samples (list[ClsDataSample], optional): One per image;
                ``'loss'`` needs their ``gt_label``. Defaults to None.
            mode (str): ``'tensor'`` returns logits [N, K]; ``'loss'``
                returns ``dict(loss=Tensor)``; ``'predict'`` returns the
                data samples with ``pred_score`` [K] and ``pred_label`` [1]
                set. Defaults to ``'tensor'``.

        Returns:
            Tensor | dict[str, Tensor] | list[ClsDataSample]: See ``mode``.
        """
        if mode == 'tensor':
            return self.head(self.extract_feat(inputs))
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise ValueError(f'ImageClassifier: invalid mode {mode!r}; expected '
                         "'tensor', 'loss' or 'predict'")

    def loss(self, inputs: torch.Tensor,
             data_samples: Optional[Sequence[ClsDataSample]]
             ) -> Dict[str, torch.Tensor]:
        """Cross-entropy of a batch.

        Args:
            inputs (Tensor): Normalised images, shape [N, 3, H, W].
            data_samples (Sequence[ClsDataSample]): N samples with
                ``gt_label``.

        Returns:
            dict[str, Tensor]: ``dict(loss=Tensor)``, a scalar.
        """
        if not data_samples or len(data_samples) != inputs.shape[0]:
            raise ValueError(
                "ImageClassifier(mode='loss') needs one data sample with "
                f'gt_label per image: got {inputs.shape[0]} images and '
                f'{0 if not data_samples else len(data_samples)} samples')
        try:
            labels = torch.cat([s.gt_label for s in data_samples])
        except AttributeError as err:
            raise ValueError(
                "ImageClassifier(mode='loss'): a data sample has no "
                "gt_label; the pipeline must pack it (mmext.PackClsInputs "
                "after a dataset that yields 'gt_label')") from err
        logits = self.head(self.extract_feat(inputs))  # [N, K]
        return dict(loss=self.head.loss(logits, labels.to(logits.device)))

    @torch.no_grad()
    def predict(self,
                inputs: torch.Tensor,
                data_samples: Optional[Sequence[ClsDataSample]] = None
                ) -> List[ClsDataSample]:
        """Class probabilities and labels of a batch.

        Args:
            inputs (Tensor): Normalised images, shape [N, 3, H, W].
            data_samples (Sequence[ClsDataSample], optional): N samples to
                fill in; new ones are created when None. Defaults to None.

        Returns:
            list[ClsDataSample]: N samples with ``pred_score`` (softmax,
            shape [K]) and ``pred_label`` (``torch.long``, shape [1]).
        """
        logits = self.head(self.extract_feat(inputs))  # [N, K]
        scores, labels = self.head.predict(logits)  # [N, K], [N]
        if data_samples is None:
            data_samples = [ClsDataSample() for _ in range(inputs.shape[0])]
        elif len(data_samples) != inputs.shape[0]:
            raise ValueError(
                f'ImageClassifier.predict: got {inputs.shape[0]} images and '
                f'{len(data_samples)} data samples')
        for i, sample in enumerate(data_samples):
            sample.pred_score = scores[i]
            sample.pred_label = labels[i:i + 1]
        return list(data_samples)
