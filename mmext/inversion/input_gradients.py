"""Convolution and eval-mode BatchNorm forwards whose backward forms the
input gradient only, for GradInversion's pooled seeds (:mod:`.pooled`).

The pooled path differentiates the images through the victim twice: once
for every layer's output gradient ``dy`` (with ``create_graph``), then the
objective built from those by the images. The second pass goes through the
first pass's backward (double backward). Two of PyTorch's double backwards
do more work than this needs:

- a convolution's input gradient ``convolution_backward(dy, x, W)``: its
  backward (``_convolution_double_backward``) also forms the weight
  gradient ``conv(ggI, dy)`` over all images whether or not anything asks
  for it, one extra weight-gradient convolution per layer;
- eval-mode BatchNorm's backward: its own backward is a composite of about
  fifteen tensor operations written for training mode.

Here a convolution's backward is the transposed convolution of ``dy`` with
the weight (:class:`InputGradientConv2d`), whose own backward is one
convolution, and an eval-mode BatchNorm is the per-channel affine map it
computes (:func:`eval_norm_affine`). Values and image gradients are the
same up to rounding; neither layer's parameters get a gradient (the
pooled path computes the parameters' gradient products itself).
"""
import types
from contextlib import contextmanager
from typing import Iterator, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.utils import _pair


def transposed_output_padding(input_size: Sequence[int],
                              output_size: Sequence[int],
                              kernel_size: Sequence[int],
                              stride: Tuple[int, int],
                              padding: Tuple[int, int],
                              dilation: Tuple[int, int]) -> List[int]:
    """The ``output_padding`` that makes the transposed convolution of a
    convolution's output gradient [.., H', W'] come back at the input size
    [.., H, W] (a strided convolution maps several input sizes to one
    output size)."""
    return [
        size - ((out - 1) * s - 2 * p + d * (k - 1) + 1)
        for size, out, k, s, p, d in zip(input_size, output_size,
                                         kernel_size, stride, padding,
                                         dilation)
    ]


class InputGradientConv2d(torch.autograd.Function):
    """``F.conv2d`` whose backward is the input gradient only, computed as
    the transposed convolution of the output gradient with the weight
    (differentiable again: its backward is one convolution). The weight and
    bias get no gradient."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor,
                bias: torch.Tensor, stride: Tuple[int, int],
                padding: Tuple[int, int], dilation: Tuple[int, int],
                groups: int) -> torch.Tensor:
        """[N, C_in, H, W] -> [N, C_out, H', W'], ``F.conv2d``'s maths."""
        ctx.save_for_backward(weight)
        ctx.layout = (stride, padding, dilation, groups, x.shape[-2:])
        return F.conv2d(x, weight, bias, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        """``dL/dx`` [N, C_in, H, W] from ``dL/dy`` [N, C_out, H', W']."""
        weight, = ctx.saved_tensors
        stride, padding, dilation, groups, input_size = ctx.layout
        output_padding = transposed_output_padding(
            input_size, grad_output.shape[-2:], weight.shape[-2:], stride,
            padding, dilation)
        grad_input = F.conv_transpose2d(grad_output, weight.detach(), None,
                                        stride, padding, output_padding,
                                        groups, dilation)
        return grad_input, None, None, None, None, None, None


def input_gradient_conv_forward(conv: nn.Conv2d,
                                x: torch.Tensor) -> torch.Tensor:
    """``conv(x)`` through :class:`InputGradientConv2d` (numeric padding,
    zeros padding mode: :func:`.pooled.pooled_unsupported_reason`)."""
    return InputGradientConv2d.apply(x, conv.weight, conv.bias,
                                     _pair(conv.stride), _pair(conv.padding),
                                     _pair(conv.dilation), conv.groups)


def eval_norm_affine(norm: nn.modules.batchnorm._BatchNorm,
                     x: torch.Tensor) -> torch.Tensor:
    """An eval-mode BatchNorm as the affine map it is, ``x * a + b`` per
    channel with ``a = weight / sqrt(running_var + eps)`` and ``b = bias -
    running_mean * a`` (the parameters detached).

    Args:
        norm (_BatchNorm): The layer (running statistics).
        x (Tensor): [N, C, *spatial].

    Returns:
        Tensor: [N, C, *spatial].
    """
    scale = (norm.running_var + norm.eps).rsqrt()
    if norm.weight is not None:
        scale = scale * norm.weight.detach()
    shift = -norm.running_mean * scale
    if norm.bias is not None:
        shift = shift + norm.bias.detach()
    shape = (1, -1) + (1, ) * (x.dim() - 2)
    return torch.addcmul(shift.view(shape), x, scale.view(shape))


@contextmanager
def input_gradient_forwards(layers: Sequence[nn.Module]) -> Iterator[None]:
    """Within the block, the Conv2d layers among ``layers`` run through
    :class:`InputGradientConv2d` and the BatchNorm layers as
    :func:`eval_norm_affine` (their forward hooks still run); other layers
    are left alone.

    Args:
        layers (Sequence[nn.Module]): Conv2d layers with numeric zero
            padding and eval-mode BatchNorm layers with running statistics,
            each keeping its class's maths
            (:func:`.pooled.input_gradient_layers`).
    """
    replaced = []
    try:
        for layer in layers:
            if 'forward' in vars(layer):
                continue  # an instance-level forward: keep it
            if isinstance(layer, nn.Conv2d):
                forward = input_gradient_conv_forward
            elif isinstance(layer, nn.modules.batchnorm._BatchNorm):
                forward = eval_norm_affine
            else:
                continue
            layer.forward = types.MethodType(forward, layer)
            replaced.append(layer)
        yield
    finally:
        for layer in replaced:
            del layer.forward
