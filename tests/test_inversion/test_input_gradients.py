"""The pooled path's layer forwards with an input-only backward
(:mod:`mmext.inversion.input_gradients`): values, input gradients and the
gradients of input gradients (double backward) equal PyTorch's own layers
in float64, on convolutions whose transposed convolution needs an output
padding; the parameters get no gradient; the forwards are swapped only
inside the block and the layers' hooks still run."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmext.inversion.input_gradients import (eval_norm_affine,
                                             input_gradient_conv_forward,
                                             input_gradient_forwards,
                                             transposed_output_padding)
from mmext.inversion.pooled import input_gradient_layers

pytestmark = pytest.mark.usefixtures('one_torch_thread')

#: Convolutions of a 9x11 input: odd sizes with strides leave rows and
#: columns that the transposed convolution must pad back.
CONVOLUTIONS = [
    dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1),
    dict(in_channels=4, out_channels=6, kernel_size=(3, 5), stride=(2, 3),
         padding=(0, 2), dilation=(2, 1), bias=False),
    dict(in_channels=4, out_channels=8, kernel_size=3, padding=1, groups=2),
    dict(in_channels=4, out_channels=6, kernel_size=1, stride=2),
    dict(in_channels=4, out_channels=6, kernel_size=7, stride=2, padding=3),
]


def _second_order(layer_forward, x: torch.Tensor) -> tuple:
    """The output, ``dL/dx`` of ``L = sum(y^2 * c)`` (with the graph) and
    the gradient of ``sum(dL/dx * d)`` by ``x`` (through ``y``'s
    dependence on ``x`` and the backward's on ``dL/dy``)."""
    generator = torch.Generator().manual_seed(1)
    y = layer_forward(x)
    c = torch.rand(y.shape, dtype=y.dtype, generator=generator)
    d = torch.rand(x.shape, dtype=x.dtype, generator=generator)
    grad_x, = torch.autograd.grad((y.pow(2) * c).sum(), x,
                                  create_graph=True)
    second, = torch.autograd.grad((grad_x * d).sum(), x)
    return y, grad_x, second


@pytest.mark.parametrize('options', CONVOLUTIONS)
def test_conv_equals_pytorchs_to_second_order(options):
    torch.manual_seed(0)
    conv = nn.Conv2d(**options).double()
    x = torch.randn(3, 4, 9, 11, dtype=torch.float64, requires_grad=True)
    ours = _second_order(lambda t: input_gradient_conv_forward(conv, t), x)
    reference = _second_order(conv, x)
    for mine, theirs in zip(ours, reference):
        assert mine.shape == theirs.shape
        torch.testing.assert_close(mine, theirs, rtol=1e-12, atol=1e-12)


def test_output_padding_restores_the_input_size():
    # 9 rows, kernel 3, stride 2, padding 1 -> 5 rows, which a transposed
    # convolution maps back to 9; 10 rows -> 5 rows -> 10 needs 1 more.
    assert transposed_output_padding([9, 10], [5, 5], [3, 3], (2, 2),
                                     (1, 1), (1, 1)) == [0, 1]


@pytest.mark.parametrize('norm, shape', [
    (nn.BatchNorm2d(5), (3, 5, 4, 6)),
    (nn.BatchNorm1d(5), (3, 5)),
    (nn.BatchNorm2d(5, affine=False), (3, 5, 4, 6)),
])
def test_eval_norm_equals_batchnorm_to_second_order(norm, shape):
    torch.manual_seed(0)
    norm = norm.double().eval()
    norm.running_mean.uniform_(-1, 1)
    norm.running_var.uniform_(0.5, 2)
    if norm.weight is not None:
        norm.weight.data.uniform_(0.5, 1.5)
        norm.bias.data.uniform_(-1, 1)
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    ours = _second_order(lambda t: eval_norm_affine(norm, t), x)
    for mine, theirs in zip(ours, _second_order(norm, x)):
        torch.testing.assert_close(mine, theirs, rtol=1e-12, atol=1e-12)


def test_parameters_get_no_gradient():
    conv, norm = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4).eval()
    x = torch.randn(2, 3, 6, 6, requires_grad=True)
    eval_norm_affine(norm, input_gradient_conv_forward(conv, x)).sum() \
        .backward()
    assert x.grad is not None
    assert all(p.grad is None for p in (*conv.parameters(),
                                        *norm.parameters()))


def test_forwards_are_swapped_inside_the_block_only():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4),
                          nn.ReLU(inplace=True), nn.Flatten(),
                          nn.Linear(4 * 25, 2)).double().eval()
    model[1].running_var.uniform_(0.5, 2)
    seen = []
    for layer in model[:2]:
        layer.register_forward_hook(lambda m, i, o: seen.append(type(m)))
    x = torch.randn(2, 3, 5, 5, dtype=torch.float64, requires_grad=True)
    layers = input_gradient_layers(model)
    assert layers == [model[0], model[1]]  # not the linear layer
    with input_gradient_forwards(layers):
        ours = _second_order(model, x)
        assert 'forward' in vars(model[0]) and 'forward' in vars(model[1])
    assert seen == [nn.Conv2d, nn.BatchNorm2d]  # their hooks ran
    assert not any('forward' in vars(m) for m in model)
    for mine, theirs in zip(ours, _second_order(model, x)):
        torch.testing.assert_close(mine, theirs, rtol=1e-12, atol=1e-12)
    with pytest.raises(RuntimeError, match='inside'):
        with input_gradient_forwards(layers):
            raise RuntimeError('inside')
    assert not any('forward' in vars(m) for m in model)


def test_layers_without_the_maths_are_left_alone():
    """Same-padding, reflect-padding and training-mode layers, and a BN
    without running statistics, keep their own forward."""
    model = nn.Sequential(
        nn.Conv2d(3, 3, 3, padding='same'),
        nn.Conv2d(3, 3, 3, padding=1, padding_mode='reflect'),
        nn.BatchNorm2d(3, track_running_stats=False).eval(),
        nn.BatchNorm2d(3).train(), nn.Conv2d(3, 3, 1).requires_grad_(False))
    assert input_gradient_layers(model) == [model[4]]
    x = torch.randn(2, 3, 5, 5)
    with input_gradient_forwards([model[4]]):
        torch.testing.assert_close(model[4](x), F.conv2d(
            x, model[4].weight, model[4].bias))
