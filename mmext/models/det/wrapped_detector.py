"""The shape shared by mmext's models that train a stock mmdet detector
with extra losses (DICOD's distiller, AL-SSL's flip consistency): the
``loss`` mode is theirs, ``predict`` and ``tensor`` are the wrapped
detector's alone."""
from typing import List, Optional

from mmdet.structures import DetDataSample
from mmengine.model import BaseModel
from torch import Tensor, nn


class WrappedDetector(BaseModel):
    """Dispatches MMEngine's three modes; subclasses implement ``loss``
    and name their wrapped detector in ``wrapped_attribute``."""

    #: The attribute holding the stock mmdet detector.
    wrapped_attribute = 'detector'

    @property
    def wrapped(self) -> nn.Module:
        """The stock mmdet detector."""
        return getattr(self, self.wrapped_attribute)

    def forward(self,
                inputs: Tensor,
                data_samples: Optional[List[DetDataSample]] = None,
                mode: str = 'tensor'):
        """``loss`` is the subclass's; ``predict`` and ``tensor`` the
        wrapped detector's."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.wrapped.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.wrapped._forward(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, '
                           'predict and tensor mode')
