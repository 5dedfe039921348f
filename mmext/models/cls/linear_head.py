"""Plain-PyTorch pieces of the image classifier: pooling and a linear head."""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import nn


def global_avg_pool(feat: torch.Tensor) -> torch.Tensor:
    """Average a feature map over its spatial dimensions.

    Args:
        feat (Tensor): A feature map [N, C, H, W], or already pooled
            features [N, C] (returned unchanged).

    Returns:
        Tensor: Pooled features, shape [N, C].

    Raises:
        ValueError: If ``feat`` is neither 2-D nor 4-D.
    """
    if feat.ndim == 2:
        return feat
    if feat.ndim != 4:
        raise ValueError('expected backbone/neck features of shape '
                         f'[N, C, H, W] or [N, C], got {tuple(feat.shape)}')
    return feat.mean(dim=(2, 3))


class LinearClsHead(nn.Module):
    """A linear classifier with cross-entropy loss.

    Args:
        in_channels (int): Channels of the pooled features C.
        num_classes (int): Number of classes K.
        dropout (float): Dropout probability before the linear layer.
            Defaults to 0.
        label_smoothing (float): Label smoothing of the cross-entropy, in
            [0, 1). Defaults to 0.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 dropout: float = 0.0,
                 label_smoothing: float = 0.0) -> None:
        super().__init__()
        if in_channels <= 0:
            raise ValueError(
                f'in_channels must be positive, got {in_channels}')
        if num_classes <= 0:
            raise ValueError(
                f'num_classes must be positive, got {num_classes}')
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f'dropout must be in [0, 1), got {dropout}')
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(
                f'label_smoothing must be in [0, 1), got {label_smoothing}')
        self.num_classes = num_classes
        self.label_smoothing = label_smoothing
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(in_channels, num_classes)

    @property
    def in_channels(self) -> int:
        """int: Channels C of the pooled features (follows the linear
        layer, so a channel-pruned head stays consistent)."""
        return self.fc.in_features

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """Compute logits.

        Args:
            feats (Tensor): Pooled features, shape [N, C].

        Returns:
            Tensor: Logits, shape [N, K].
        """
        return self.fc(self.dropout(feats))

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Cross-entropy with optional label smoothing, averaged over N.

        Args:
            logits (Tensor): Logits, shape [N, K].
            labels (Tensor): Class indices in [0, K), ``torch.long``,
                shape [N].

        Returns:
            Tensor: The scalar loss.
        """
        return F.cross_entropy(
            logits, labels, label_smoothing=self.label_smoothing)

    @staticmethod
    def predict(logits: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Turn logits into probabilities and labels.

        Args:
            logits (Tensor): Logits, shape [N, K].

        Returns:
            tuple[Tensor, Tensor]: Softmax scores [N, K] and the arg-max
            labels [N] (``torch.long``).
        """
        scores = F.softmax(logits, dim=1)
        return scores, scores.argmax(dim=1)
