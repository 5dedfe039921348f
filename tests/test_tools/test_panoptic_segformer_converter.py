"""panoptic_segformer2mmext: official (mmdet 2.x) layout to mmext's.

The official key list is written out here from the official module
definitions (zhiqi-li/Panoptic-SegFormer commit cdb9b680: ``PanSeg`` with
``PanformerHead``, ``Deformable_Transformer``, ``MaskHead``; mmcv 1.3.4's
``BaseTransformerLayer``/``FFN``/``MultiheadAttention``/
``MultiScaleDeformableAttention``; mmdet's ResNet-50 and ChannelMapper),
independently of the converter's rename table.
"""
import os.path as osp
from collections import OrderedDict

import pytest
import torch
from mmengine.runner import load_checkpoint

from mmext.apis import init_model
from mmext.testing.tools import load_tool as load_tool_module

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', '_base_', 'models',
                  'panoptic-segformer_r50.py')

# configs/panformer/base.py of the official repository
C, FFN_DIM, HEADS, LEVELS, POINTS = 256, 1024, 8, 4, 4
THINGS, STUFF, QUERIES = 80, 53, 300
ENC_LAYERS = DEC_LAYERS = 6
THING_BLOCKS, STUFF_BLOCKS = 4, 6
NUM_REG_FCS = 2


def linear(out, inp, name=''):
    prefix = f'{name}.' if name else ''
    return {prefix + 'weight': (out, inp), prefix + 'bias': (out, )}


def norm(name, channels=C):
    return {f'{name}.weight': (channels, ), f'{name}.bias': (channels, )}


def batch_norm(name, channels):
    return {
        **norm(name, channels), f'{name}.running_mean': (channels, ),
        f'{name}.running_var': (channels, ),
        f'{name}.num_batches_tracked': ()
    }


def deformable_attention():
    """mmcv 1.3.4 MultiScaleDeformableAttention."""
    return {
        **linear(HEADS * LEVELS * POINTS * 2, C, 'sampling_offsets'),
        **linear(HEADS * LEVELS * POINTS, C, 'attention_weights'),
        **linear(C, C, 'value_proj'),
        **linear(C, C, 'output_proj')
    }


def ffn():
    """mmcv 1.3.4 FFN: layers = [Sequential(Linear, act, Dropout), Linear]."""
    return {
        **linear(FFN_DIM, C, 'layers.0.0'),
        **linear(C, FFN_DIM, 'layers.1')
    }


def multihead_attention():
    """mmcv 1.3.4 MultiheadAttention: nn.MultiheadAttention as ``attn``."""
    return {
        'attn.in_proj_weight': (3 * C, C),
        'attn.in_proj_bias': (3 * C, ),
        **linear(C, C, 'attn.out_proj')
    }


def reg_branch():
    """[Linear, ReLU] * num_reg_fcs + [Linear(C, 4)]."""
    out = {}
    for n in range(NUM_REG_FCS):
        out.update(linear(C, C, str(2 * n)))
    out.update(linear(4, C, str(2 * NUM_REG_FCS)))
    return out


def to_mask():
    """linear_l{1,2,3}: Sequential(Linear(h, h), ReLU); linear:
    Sequential(Linear(3h, 1), ReLU)."""
    out = {}
    for n in (1, 2, 3):
        out.update(linear(HEADS, HEADS, f'linear_l{n}.0'))
    out.update(linear(1, 3 * HEADS, 'linear.0'))
    return out


def mask_block(self_attn):
    """mask_head.Block (qkv_bias=True, mlp_ratio=4)."""
    out = {**norm('head_norm1'), **norm('head_norm2')}
    for name in ('q', 'k', 'v', 'proj'):
        out.update(linear(C, C, f'attn.{name}'))
    out.update({f'attn.{k}': v for k, v in to_mask().items()})
    out.update(linear(4 * C, C, 'mlp.fc1'))
    out.update(linear(C, 4 * C, 'mlp.fc2'))
    if self_attn:
        out.update(linear(3 * C, C, 'self_attention.qkv'))
        out.update(linear(C, C, 'self_attention.proj'))
        out.update(norm('norm3'))
    return out


def attention_tail():
    """mask_head.AttentionTail: q, k and the mask branch only."""
    return {**linear(C, C, 'q'), **linear(C, C, 'k'), **to_mask()}


def resnet50():
    """mmdet ResNet-50 (Bottleneck, style pytorch)."""
    out = {'conv1.weight': (64, 3, 7, 7), **batch_norm('bn1', 64)}
    inplanes = 64
    for stage, blocks in enumerate((3, 4, 6, 3)):
        planes = 64 * 2**stage
        for b in range(blocks):
            p = f'layer{stage + 1}.{b}.'
            out[p + 'conv1.weight'] = (planes, inplanes, 1, 1)
            out[p + 'conv2.weight'] = (planes, planes, 3, 3)
            out[p + 'conv3.weight'] = (planes * 4, planes, 1, 1)
            for n, ch in ((1, planes), (2, planes), (3, planes * 4)):
                out.update(batch_norm(f'{p}bn{n}', ch))
            if b == 0:
                out[p + 'downsample.0.weight'] = (planes * 4, inplanes, 1, 1)
                out.update(batch_norm(f'{p}downsample.1', planes * 4))
            inplanes = planes * 4
    return out


def channel_mapper():
    """ChannelMapper(in_channels=[512, 1024, 2048], kernel 1, GN, one extra
    3x3 stride-2 conv on the last input); ConvModule has no conv bias with
    a norm."""
    out = {}
    for n, ch in enumerate((512, 1024, 2048)):
        out[f'convs.{n}.conv.weight'] = (C, ch, 1, 1)
        out.update(norm(f'convs.{n}.gn'))
    out['extra_convs.0.conv.weight'] = (C, 2048, 3, 3)
    out.update(norm('extra_convs.0.gn'))
    return out


ENC = 'bbox_head.transformer.encoder.layers.{i}.'
DEC = 'bbox_head.transformer.decoder.layers.{i}.'
THING_HEAD = 'bbox_head.things_mask_head.'
STUFF_HEAD = 'bbox_head.stuff_mask_head.'

# (prefix template, repeats for {i}, {suffix: shape})
OFFICIAL_LAYOUT = [
    ('backbone.', 1, resnet50()),
    ('neck.', 1, channel_mapper()),
    (ENC + 'attentions.0.', ENC_LAYERS, deformable_attention()),
    (ENC + 'ffns.0.', ENC_LAYERS, ffn()),
    (ENC, ENC_LAYERS, {**norm('norms.0'), **norm('norms.1')}),
    (DEC + 'attentions.0.', DEC_LAYERS, multihead_attention()),
    (DEC + 'attentions.1.', DEC_LAYERS, deformable_attention()),
    (DEC + 'ffns.0.', DEC_LAYERS, ffn()),
    (DEC, DEC_LAYERS, {**norm('norms.0'), **norm('norms.1'),
                       **norm('norms.2')}),
    ('bbox_head.transformer.', 1, {
        'level_embeds': (LEVELS, C), **linear(2, C, 'reference_points')}),
    ('bbox_head.', 1, {'query_embedding.weight': (QUERIES, 2 * C),
                       'stuff_query.weight': (STUFF, 2 * C)}),
    ('bbox_head.cls_branches.{i}.', DEC_LAYERS, linear(THINGS, C)),
    ('bbox_head.reg_branches.{i}.', DEC_LAYERS, reg_branch()),
    ('bbox_head.reg_branches2.{i}.', THING_BLOCKS, reg_branch()),
    ('bbox_head.cls_thing_branches.{i}.', THING_BLOCKS, linear(THINGS, C)),
    ('bbox_head.cls_stuff_branches.{i}.', STUFF_BLOCKS, linear(1, C)),
    (THING_HEAD + 'blocks.{i}.', THING_BLOCKS, mask_block(False)),
    (THING_HEAD + 'attnen.', 1, attention_tail()),
    (STUFF_HEAD + 'blocks.{i}.', STUFF_BLOCKS, mask_block(True)),
    (STUFF_HEAD + 'attnen.', 1, attention_tail()),
]
NUM_DROPPED = THING_BLOCKS * (len(reg_branch()) + 2)


def official_state():
    gen = torch.Generator().manual_seed(0)
    state = OrderedDict()
    for prefix, repeats, leaves in OFFICIAL_LAYOUT:
        for i in range(repeats):
            for suffix, shape in leaves.items():
                key = prefix.format(i=i) + suffix
                assert key not in state, key
                if suffix.endswith('num_batches_tracked'):
                    state[key] = torch.randint(0, 1000, shape, generator=gen)
                else:
                    state[key] = torch.rand(shape, generator=gen)
    return state


def load_tool():
    return load_tool_module('model_converters/panoptic_segformer2mmext.py')


@pytest.fixture(scope='module')
def model():
    return init_model(CONFIG, cfg_options=dict(default_scope='mmdet'))


@pytest.fixture(scope='module')
def official():
    return official_state()


def convert(*args, **kwargs):
    from mmext.models.det.panoptic_segformer.convert import \
        convert_official_state_dict
    return convert_official_state_dict(*args, **kwargs)


def test_cli_round_trip_loads_strictly_with_values_in_place(
        tmp_path, model, official, capsys):
    src, dst = tmp_path / 'official.pth', tmp_path / 'out' / 'mmext.pth'
    torch.save({'state_dict': official,
                'meta': {'mmdet_version': '2.12.0', 'epoch': 24}}, src)
    assert load_tool().main([str(src), str(dst)]) == 0
    out = capsys.readouterr().out
    assert 'wrote' in out
    assert 'reg_branches2' in out and 'cls_thing_branches' in out
    assert sorted(p.name for p in dst.parent.iterdir()) == ['mmext.pth']
    saved = torch.load(dst, weights_only=True)
    assert set(saved) == {'state_dict'}
    assert len(saved['state_dict']) == len(official) - NUM_DROPPED

    load_checkpoint(model, str(dst), map_location='cpu', strict=True)
    head = model.bbox_head
    stuff, thing = head.stuff_mask_decoder, head.thing_mask_decoder
    pairs = [
        ('backbone.layer3.5.bn2.running_var',
         model.backbone.layer3[5].bn2.running_var),
        ('neck.extra_convs.0.gn.weight', model.neck.extra_convs[0].gn.weight),
        ('bbox_head.transformer.level_embeds', model.level_embed),
        ('bbox_head.transformer.reference_points.weight',
         model.reference_points_fc.weight),
        ('bbox_head.query_embedding.weight', model.query_embedding.weight),
        ('bbox_head.stuff_query.weight', head.stuff_query.weight),
        ('bbox_head.transformer.encoder.layers.2.attentions.0.'
         'sampling_offsets.bias',
         model.encoder.layers[2].self_attn.sampling_offsets.bias),
        ('bbox_head.transformer.encoder.layers.4.ffns.0.layers.1.weight',
         model.encoder.layers[4].ffn.layers[1].weight),
        ('bbox_head.transformer.encoder.layers.0.norms.1.bias',
         model.encoder.layers[0].norms[1].bias),
        ('bbox_head.transformer.decoder.layers.5.attentions.0.attn.'
         'in_proj_weight', model.decoder.layers[5].self_attn.attn
         .in_proj_weight),
        ('bbox_head.transformer.decoder.layers.1.attentions.1.value_proj.'
         'weight', model.decoder.layers[1].cross_attn.value_proj.weight),
        ('bbox_head.transformer.decoder.layers.3.norms.2.weight',
         model.decoder.layers[3].norms[2].weight),
        ('bbox_head.cls_branches.4.bias', head.cls_branches[4].bias),
        ('bbox_head.reg_branches.2.4.weight', head.reg_branches[2][4].weight),
        ('bbox_head.cls_stuff_branches.5.weight',
         head.stuff_cls_branches[5].weight),
        ('bbox_head.things_mask_head.blocks.1.attn.linear_l2.0.weight',
         thing.layers[1].cross_attn.to_mask.level_mixers[1].weight),
        ('bbox_head.things_mask_head.blocks.3.attn.linear.0.weight',
         thing.layers[3].cross_attn.to_mask.fuse.weight),
        ('bbox_head.things_mask_head.blocks.0.head_norm1.weight',
         thing.layers[0].cross_norm.weight),
        ('bbox_head.things_mask_head.blocks.2.head_norm2.bias',
         thing.layers[2].ffn_norm.bias),
        ('bbox_head.things_mask_head.blocks.2.mlp.fc2.weight',
         thing.layers[2].ffn[2].weight),
        ('bbox_head.things_mask_head.attnen.linear_l3.0.bias',
         thing.tail.to_mask.level_mixers[2].bias),
        ('bbox_head.stuff_mask_head.blocks.3.self_attention.qkv.weight',
         stuff.layers[3].self_attn.in_proj_weight),
        ('bbox_head.stuff_mask_head.blocks.3.self_attention.qkv.bias',
         stuff.layers[3].self_attn.in_proj_bias),
        ('bbox_head.stuff_mask_head.blocks.4.self_attention.proj.weight',
         stuff.layers[4].self_attn.out_proj.weight),
        ('bbox_head.stuff_mask_head.blocks.5.norm3.weight',
         stuff.layers[5].self_norm.weight),
        ('bbox_head.stuff_mask_head.blocks.0.attn.v.bias',
         stuff.layers[0].cross_attn.v.bias),
        ('bbox_head.stuff_mask_head.attnen.k.weight', stuff.tail.k.weight),
        ('bbox_head.stuff_mask_head.attnen.linear.0.bias',
         stuff.tail.to_mask.fuse.bias),
    ]
    for key, tensor in pairs:
        assert torch.equal(official[key], tensor.detach()), key


def test_dropped_keys_are_named_and_reported(official, model):
    notes = []
    converted = convert(official, expected=model.state_dict(),
                        log=notes.append)
    assert not any('reg_branches2' in k or 'cls_thing_branches' in k
                   for k in converted)
    assert len(notes) == 1
    assert '24 official keys bbox_head.reg_branches2.*' in notes[0]
    assert '8 official keys bbox_head.cls_thing_branches.*' in notes[0]
    # every rename inverts (the error messages name official keys)
    from mmext.models.det.panoptic_segformer.convert import official_key
    sources = [k for k in official
               if 'reg_branches2' not in k and 'cls_thing_branches' not in k]
    assert [official_key(k) for k in converted] == sources
    # no copies: the converted dict shares the official tensors
    assert converted['level_embed'] is official[
        'bbox_head.transformer.level_embeds']


def test_unknown_key_is_an_error_naming_it(official):
    state = OrderedDict(official)
    state['bbox_head.transformer.decoder.bbox_embed.0.weight'] = torch.ones(1)
    with pytest.raises(KeyError, match=r'decoder\.bbox_embed\.0\.weight'):
        convert(state, log=None)


def test_missing_key_is_an_error_naming_it(official, model):
    state = OrderedDict(official)
    del state['bbox_head.stuff_mask_head.blocks.2.norm3.bias']
    with pytest.raises(KeyError) as err:
        convert(state, expected=model.state_dict(), log=None)
    message = str(err.value)
    assert 'bbox_head.stuff_mask_head.blocks.2.norm3.bias' in message
    assert 'bbox_head.stuff_mask_decoder.layers.2.self_norm.bias' in message
    assert message.count('->') == 1


def test_wrong_shape_is_an_error_naming_it(official, model):
    state = OrderedDict(official)
    key = 'bbox_head.cls_stuff_branches.0.weight'
    state[key] = torch.zeros(2, C)
    with pytest.raises(ValueError, match=key.replace('.', r'\.')):
        convert(state, expected=model.state_dict(), log=None)


def test_cli_errors_list_keys_and_write_nothing(tmp_path, official, capsys):
    dst = tmp_path / 'never.pth'
    # a bare state dict (no 'state_dict' wrapper) with one unknown key
    bare = {'bbox_head.stuff_query.weight':
            official['bbox_head.stuff_query.weight'],
            'bbox_head.mystery.weight': torch.zeros(1)}
    torch.save(bare, tmp_path / 'bare.pth')
    assert load_tool().main([str(tmp_path / 'bare.pth'), str(dst)]) == 1
    assert 'bbox_head.mystery.weight' in capsys.readouterr().err
    # known keys only, far too few of them: the missing ones are listed
    del bare['bbox_head.mystery.weight']
    torch.save(bare, tmp_path / 'bare.pth')
    assert load_tool().main([str(tmp_path / 'bare.pth'), str(dst)]) == 1
    err = capsys.readouterr().err
    assert 'bbox_head.things_mask_head.attnen.q.weight' in err
    assert 'backbone.conv1.weight' in err
    assert 'bbox_head.stuff_query.weight' not in err
    assert not dst.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ['bare.pth']
    assert load_tool().main([str(tmp_path / 'nope.pth'), str(dst)]) == 2
