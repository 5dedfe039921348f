"""cvpmvsnet2mmext: the released CVP-MVSNet layout to mmext's.

The released key layout (public repository JiayuYANG/CVP-MVSNet,
``models/net.py``) is written out here as names and shapes, independently
of the converter's rename table: ``featurePyramid`` holds nine
``Sequential(Conv2d, LeakyReLU)`` named ``conv0aa, conv0ba .. conv0bh``;
``cost_reg_refine`` holds conv-BN-ReLU blocks (``conv``, ``bn``) named
``conv0, conv0a, conv1, conv2, conv2a, conv3, conv4, conv4a``, two
``Sequential(ConvTranspose3d, BatchNorm3d, ReLU)`` named ``conv5, conv6``
and the ``prob0`` Conv3d.
"""
from collections import OrderedDict

import pytest
import torch
from mmengine.runner import load_checkpoint

from mmext.models.mvs import CVPMVSNet, convert_reference_state_dict
from mmext.testing.tools import load_tool

PYRAMID = [('aa', 3, 64), ('ba', 64, 64), ('bb', 64, 64), ('bc', 64, 32),
           ('bd', 32, 32), ('be', 32, 32), ('bf', 32, 16), ('bg', 16, 16),
           ('bh', 16, 16)]
BLOCKS = [('conv0', 16, 16), ('conv0a', 16, 16), ('conv1', 16, 32),
          ('conv2', 32, 32), ('conv2a', 32, 32), ('conv3', 32, 64),
          ('conv4', 64, 64), ('conv4a', 64, 64)]
# Where each released tensor must land (written by hand).
MMEXT_BLOCKS = {
    'conv0': 'enc0.0', 'conv0a': 'enc0.1', 'conv1': 'enc1.0',
    'conv2': 'enc1.1', 'conv2a': 'enc1.2', 'conv3': 'enc2.0',
    'conv4': 'enc2.1', 'conv4a': 'enc2.2'
}


def batch_norm(prefix, channels):
    return {
        f'{prefix}.weight': (channels, ),
        f'{prefix}.bias': (channels, ),
        f'{prefix}.running_mean': (channels, ),
        f'{prefix}.running_var': (channels, ),
        f'{prefix}.num_batches_tracked': (),
    }


def released_shapes():
    shapes = OrderedDict()
    for name, cin, cout in PYRAMID:
        shapes[f'featurePyramid.conv0{name}.0.weight'] = (cout, cin, 3, 3)
        shapes[f'featurePyramid.conv0{name}.0.bias'] = (cout, )
    reg = 'cost_reg_refine'
    for name, cin, cout in BLOCKS:
        shapes[f'{reg}.{name}.conv.weight'] = (cout, cin, 3, 3, 3)
        shapes.update(batch_norm(f'{reg}.{name}.bn', cout))
    # ConvTranspose3d weights are (in, out, k, k, k).
    shapes[f'{reg}.conv5.0.weight'] = (64, 32, 3, 3, 3)
    shapes.update(batch_norm(f'{reg}.conv5.1', 32))
    shapes[f'{reg}.conv6.0.weight'] = (32, 16, 3, 3, 3)
    shapes.update(batch_norm(f'{reg}.conv6.1', 16))
    shapes[f'{reg}.prob0.weight'] = (1, 16, 3, 3, 3)
    shapes[f'{reg}.prob0.bias'] = (1, )
    return shapes


def expected_name(key):
    """The mmext key of a released key, by hand."""
    parts = key.split('.')
    if parts[0] == 'featurePyramid':
        index = [p[0] for p in PYRAMID].index(parts[1][len('conv0'):])
        return f'core.feature_pyramid.convs.{index}.{parts[3]}'
    reg = 'core.cost_regularization'
    if parts[1] in MMEXT_BLOCKS:
        return f'{reg}.{MMEXT_BLOCKS[parts[1]]}.' + '.'.join(parts[2:])
    if parts[1] in ('conv5', 'conv6'):
        block = 'dec1' if parts[1] == 'conv5' else 'dec0'
        layer = 'deconv' if parts[2] == '0' else 'bn'
        return f'{reg}.{block}.{layer}.{parts[3]}'
    return f'{reg}.logits.{parts[2]}'


@pytest.fixture
def released():
    gen = torch.Generator().manual_seed(0)
    state = OrderedDict()
    for key, shape in released_shapes().items():
        if key.endswith('num_batches_tracked'):
            state[key] = torch.randint(1, 100, shape, generator=gen)
        else:
            state[key] = torch.randn(shape, generator=gen)
    return state


def test_every_tensor_lands_in_its_place(released):
    converted = convert_reference_state_dict(released)
    model = CVPMVSNet()
    model.load_state_dict(converted, strict=True)
    mine = model.state_dict()
    assert len(mine) == len(released)
    for key, value in released.items():
        assert torch.equal(mine[expected_name(key)], value), key


def test_converted_layers_compute_what_the_released_ones_do(released):
    model = CVPMVSNet()
    model.load_state_dict(convert_reference_state_dict(released))
    image = torch.rand(1, 3, 8, 8)
    expected = image
    for name, _, _ in PYRAMID:
        expected = torch.nn.functional.leaky_relu(
            torch.nn.functional.conv2d(
                expected, released[f'featurePyramid.conv0{name}.0.weight'],
                released[f'featurePyramid.conv0{name}.0.bias'], padding=1),
            0.1)
    torch.testing.assert_close(
        model.core.feature_pyramid.extract(image), expected)


def test_dataparallel_prefix_is_stripped(released):
    wrapped = {'module.' + k: v for k, v in released.items()}
    plain = convert_reference_state_dict(released)
    stripped = convert_reference_state_dict(wrapped)
    assert list(plain) == list(stripped)


def test_unknown_missing_and_misshaped_keys_are_listed(released):
    extra = dict(released, **{'cost_reg_refine.conv7.conv.weight':
                              torch.zeros(1)})
    with pytest.raises(KeyError, match=r'conv7\.conv\.weight'):
        convert_reference_state_dict(extra)
    missing = dict(released)
    del missing['cost_reg_refine.conv5.1.running_var']
    with pytest.raises(KeyError,
                       match=r'core\.cost_regularization\.dec1\.bn\.'
                       r'running_var'):
        convert_reference_state_dict(missing)
    wrong = dict(released)
    wrong['featurePyramid.conv0bc.0.weight'] = torch.zeros(32, 64, 1, 1)
    with pytest.raises(KeyError, match=r'feature_pyramid\.convs\.3\.weight: '
                       r'\[32, 64, 1, 1\] \(expected \[32, 64, 3, 3\]\)'):
        convert_reference_state_dict(wrong)


def test_cli_writes_a_checkpoint_mmengine_loads_and_refuses_to_overwrite(
        tmp_path, released, capsys):
    tool = load_tool('model_converters/cvpmvsnet2mmext.py')
    src, dst = tmp_path / 'model_000027.ckpt', tmp_path / 'out.pth'
    torch.save({'epoch': 27, 'model': released, 'optimizer': {}}, src)
    assert tool.main([str(src), str(dst)]) == 0
    saved = torch.load(dst, weights_only=True)
    assert saved['meta']['converted_from'] == 'JiayuYANG/CVP-MVSNet'
    assert saved['meta']['source_epoch'] == 27
    model = CVPMVSNet(reference_quirks=True)
    load_checkpoint(model, str(dst), strict=True)
    torch.testing.assert_close(
        model.core.cost_regularization.logits.weight,
        released['cost_reg_refine.prob0.weight'])

    before = dst.read_bytes()
    bare = tmp_path / 'bare.pth'
    torch.save({k: torch.zeros_like(v) for k, v in released.items()}, bare)
    assert tool.main([str(bare), str(dst)]) == 1
    assert 'pass --overwrite' in capsys.readouterr().err
    assert dst.read_bytes() == before
    assert tool.main([str(bare), str(dst), '--overwrite']) == 0
    assert torch.load(dst, weights_only=True)['state_dict'][
        'core.cost_regularization.logits.weight'].abs().sum() == 0


def test_cli_errors_list_keys_and_write_nothing(tmp_path, released, capsys):
    tool = load_tool('model_converters/cvpmvsnet2mmext.py')
    src, dst = tmp_path / 'src.pth', tmp_path / 'out.pth'
    torch.save(dict(released, extra_key=torch.zeros(1)), src)
    assert tool.main([str(src), str(dst)]) == 1
    assert "['extra_key']" in capsys.readouterr().err
    assert not dst.exists()
    assert tool.main([str(tmp_path / 'nope.pth'), str(dst)]) == 2
    assert list(tmp_path.iterdir()) == [src]
