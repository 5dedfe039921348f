"""mmext's InverseBlock (direct inversion, Dong et al., arXiv 2107.06304):
every block of a ResNet is mapped back to exactly its input shape, at any
input size, and a wrong input is refused with the expected shape."""
import pytest
import torch
from mmpretrain.models import ResNet
from torch import nn

from mmext.inversion.direct.inverse_block import (InverseBlock,
                                                  upsampling_sizes)


def resnet_blocks(depth: int):
    """``[(name, block)]`` of a tiny mmpretrain ResNet in forward order,
    read off the backbone by hand (the stem with its max-pool, then each
    residual block)."""
    torch.manual_seed(0)
    backbone = ResNet(depth=depth, stem_channels=8, base_channels=8)
    backbone.eval()  # mmpretrain's ResNet.train returns None: no chaining
    blocks = [('stem', nn.Sequential(backbone.conv1, backbone.norm1,
                                     backbone.relu, backbone.maxpool))]
    for stage in backbone.res_layers:
        blocks += [(f'{stage}.{i}', block)
                   for i, block in enumerate(getattr(backbone, stage))]
    return blocks


@pytest.mark.parametrize('depth', [18, 50])
@pytest.mark.parametrize('size', [(32, 32), (33, 33), (37, 37), (33, 40)],
                         ids=lambda s: f'{s[0]}x{s[1]}')
def test_every_block_is_inverted_to_its_exact_input_shape(depth, size):
    x = torch.randn(2, 3, *size)
    strides = set()
    with torch.no_grad():
        for name, block in resnet_blocks(depth):
            y = block(x)
            inverse = InverseBlock(x.shape[1:], y.shape[1:], width=8)
            assert inverse(y).shape == x.shape, (name, size)
            strides.add(round(x.shape[2] / y.shape[2]))
            x = y
    # The walk covered non-strided and strided blocks and the stride-4 stem.
    assert strides == {1, 2, 4}


@pytest.mark.parametrize(
    'in_shape, out_shape',
    [((8, 8, 8), (8, 8, 8)),      # non-strided, same channels (identity)
     ((8, 8, 8), (32, 8, 8)),     # non-strided, channels change
     ((8, 9, 9), (16, 5, 5)),     # strided, odd size
     ((3, 37, 37), (8, 10, 10))],  # the stem (stride 4), odd size
    ids=['plain', 'channels', 'strided', 'stem'])
def test_inverse_block_maps_outputs_back_and_trains(in_shape, out_shape):
    inverse = InverseBlock(in_shape, out_shape)
    y = torch.randn(3, *out_shape, requires_grad=True)
    x = inverse(y)
    assert x.shape == (3, *in_shape)
    x.square().mean().backward()
    assert all(p.grad is not None for p in inverse.parameters())
    assert y.grad is not None and y.grad.abs().sum() > 0


@pytest.mark.parametrize('in_size, out_size, expected', [
    ((8, 8), (8, 8), []),
    ((16, 16), (8, 8), [(16, 16)]),
    ((9, 9), (5, 5), [(9, 9)]),
    ((32, 32), (8, 8), [(16, 16), (32, 32)]),
    ((37, 37), (10, 10), [(19, 19), (37, 37)]),
    ((33, 40), (9, 10), [(17, 20), (33, 40)]),
])
def test_upsampling_sizes_grow_by_two_to_the_input_size(
        in_size, out_size, expected):
    assert upsampling_sizes(in_size, out_size) == expected


def test_one_upsampling_layer_per_factor_two_of_the_stride():
    assert len(InverseBlock((8, 8, 8), (8, 8, 8)).upsample) == 0
    assert len(InverseBlock((8, 16, 16), (16, 8, 8)).upsample) == 1
    assert len(InverseBlock((3, 32, 32), (8, 8, 8)).upsample) == 2


def test_width_sets_the_inner_channels():
    assert InverseBlock((8, 8, 8), (16, 4, 4), width=5).exit.in_channels \
        == 5
    assert InverseBlock((8, 8, 8), (16, 4, 4)).exit.in_channels == 16


@pytest.mark.parametrize('bad', [(2, 16, 5, 4), (2, 8, 4, 4), (16, 4, 4)])
def test_wrong_input_shape_names_the_expected_shape(bad):
    inverse = InverseBlock((8, 8, 8), (16, 4, 4))
    inverse(torch.zeros(2, 16, 4, 4))  # the right shape passes
    with pytest.raises(ValueError, match=r'\[N, 16, 4, 4\]') as error:
        inverse(torch.zeros(bad))
    assert str(list(bad)) in str(error.value)
