"""segformer2mmext: NVlabs and mmseg layouts to mmext's, via the CLI."""
import os.path as osp

import pytest
import torch
from mmengine.runner import load_checkpoint
from torch import nn

from mmext.models.seg import MiT
from mmext.models.seg.segformer_convert import convert_segformer
from mmext.testing.tools import load_tool as load_tool_module

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(__file__))))
TOOL = osp.join(ROOT, 'tools', 'model_converters', 'segformer2mmext.py')

# A small MiT: 2 stages' worth of variety with all four stages present.
DIMS, DEPTHS, SR = (16, 32, 48, 64), (1, 2, 1, 1), (8, 4, 2, 1)


def load_tool():
    return load_tool_module('model_converters/segformer2mmext.py')


def official_encoder_state(with_classifier: bool = True) -> dict:
    """Keys and shapes of NVlabs' MixVisionTransformer, written out from its
    module names (patch_embed{s}, block{s}.{j}, norm{s}; Linear FFN)."""
    gen = torch.Generator().manual_seed(0)

    def rand(*shape):
        return torch.randn(*shape, generator=gen)

    state, in_ch = {}, 3
    for s, (dim, depth, sr) in enumerate(zip(DIMS, DEPTHS, SR), start=1):
        k = 7 if s == 1 else 3
        state[f'patch_embed{s}.proj.weight'] = rand(dim, in_ch, k, k)
        state[f'patch_embed{s}.proj.bias'] = rand(dim)
        state[f'patch_embed{s}.norm.weight'] = rand(dim)
        state[f'patch_embed{s}.norm.bias'] = rand(dim)
        for j in range(depth):
            b = f'block{s}.{j}.'
            for norm in ('norm1', 'norm2'):
                state[b + norm + '.weight'] = rand(dim)
                state[b + norm + '.bias'] = rand(dim)
            state[b + 'attn.q.weight'] = rand(dim, dim)
            state[b + 'attn.q.bias'] = rand(dim)
            state[b + 'attn.kv.weight'] = rand(2 * dim, dim)
            state[b + 'attn.kv.bias'] = rand(2 * dim)
            state[b + 'attn.proj.weight'] = rand(dim, dim)
            state[b + 'attn.proj.bias'] = rand(dim)
            if sr > 1:
                state[b + 'attn.sr.weight'] = rand(dim, dim, sr, sr)
                state[b + 'attn.sr.bias'] = rand(dim)
                state[b + 'attn.norm.weight'] = rand(dim)
                state[b + 'attn.norm.bias'] = rand(dim)
            state[b + 'mlp.fc1.weight'] = rand(4 * dim, dim)
            state[b + 'mlp.fc1.bias'] = rand(4 * dim)
            state[b + 'mlp.dwconv.dwconv.weight'] = rand(4 * dim, 1, 3, 3)
            state[b + 'mlp.dwconv.dwconv.bias'] = rand(4 * dim)
            state[b + 'mlp.fc2.weight'] = rand(dim, 4 * dim)
            state[b + 'mlp.fc2.bias'] = rand(dim)
        state[f'norm{s}.weight'] = rand(dim)
        state[f'norm{s}.bias'] = rand(dim)
        in_ch = dim
    if with_classifier:
        state['head.weight'] = rand(1000, DIMS[-1])
        state['head.bias'] = rand(1000)
    return state


def official_segmentor_state(channels=24, num_classes=5) -> dict:
    state = {'backbone.' + k: v
             for k, v in official_encoder_state(False).items()}
    gen = torch.Generator().manual_seed(1)
    for s, dim in enumerate(DIMS, start=1):
        state[f'decode_head.linear_c{s}.proj.weight'] = torch.randn(
            channels, dim, generator=gen)
        state[f'decode_head.linear_c{s}.proj.bias'] = torch.randn(
            channels, generator=gen)
    state['decode_head.linear_fuse.conv.weight'] = torch.randn(
        channels, 4 * channels, 1, 1, generator=gen)
    for p in ('weight', 'bias', 'running_mean', 'running_var'):
        state[f'decode_head.linear_fuse.bn.{p}'] = torch.rand(
            channels, generator=gen)
    state['decode_head.linear_fuse.bn.num_batches_tracked'] = torch.tensor(7)
    state['decode_head.linear_pred.weight'] = torch.randn(
        num_classes, channels, 1, 1, generator=gen)
    state['decode_head.linear_pred.bias'] = torch.randn(num_classes,
                                                        generator=gen)
    return state


def small_mit():
    return MiT(embed_dims=DIMS, depths=DEPTHS, sr_ratios=SR,
               num_heads=(1, 2, 3, 4))


def test_official_encoder_lands_in_the_right_places(tmp_path):
    src = official_encoder_state()
    torch.save(src, tmp_path / 'mit_official.pth')
    assert load_tool().main([str(tmp_path / 'mit_official.pth'),
                             str(tmp_path / 'mit.pth'),
                             '--src', 'official']) == 0
    model = small_mit()
    load_checkpoint(model, str(tmp_path / 'mit.pth'), strict=True)
    block = model.stages[1].blocks[1]
    torch.testing.assert_close(block.attn.kv.weight,
                               src['block2.1.attn.kv.weight'])
    torch.testing.assert_close(block.attn.q.bias, src['block2.1.attn.q.bias'])
    torch.testing.assert_close(block.ffn.fc1.weight,
                               src['block2.1.mlp.fc1.weight'])
    torch.testing.assert_close(block.ffn.dwconv.weight,
                               src['block2.1.mlp.dwconv.dwconv.weight'])
    torch.testing.assert_close(model.stages[0].blocks[0].attn.sr.weight,
                               src['block1.0.attn.sr.weight'])
    torch.testing.assert_close(model.stages[3].norm.bias, src['norm4.bias'])
    torch.testing.assert_close(model.stages[2].patch_embed.proj.weight,
                               src['patch_embed3.proj.weight'])


def test_official_segmentor_converts_backbone_and_head(tmp_path):
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS as SEG_MODELS
    src = official_segmentor_state()
    torch.save({'state_dict': src, 'meta': {}}, tmp_path / 'seg.pth')
    assert load_tool().main([str(tmp_path / 'seg.pth'),
                             str(tmp_path / 'out.pth'),
                             '--src', 'official']) == 0
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = SEG_MODELS.build(dict(
            type='EncoderDecoder',
            backbone=dict(type='mmext.MiT', embed_dims=DIMS, depths=DEPTHS,
                          sr_ratios=SR, num_heads=(1, 2, 3, 4)),
            decode_head=dict(type='mmext.SegFormerHead', in_channels=DIMS,
                             channels=24, num_classes=5,
                             norm_cfg=dict(type='BN'))))
    load_checkpoint(model, str(tmp_path / 'out.pth'), strict=True)
    head = model.decode_head
    torch.testing.assert_close(
        head.level_projs[2].weight[:, :, 0, 0],
        src['decode_head.linear_c3.proj.weight'])
    torch.testing.assert_close(head.fuse_conv.weight,
                               src['decode_head.linear_fuse.conv.weight'])
    torch.testing.assert_close(head.fuse_norm.running_var,
                               src['decode_head.linear_fuse.bn.running_var'])
    torch.testing.assert_close(head.conv_seg.bias,
                               src['decode_head.linear_pred.bias'])


def test_mmseg_segmentor_keeps_the_backbone(tmp_path, capsys):
    from mmseg.models.backbones import MixVisionTransformer
    torch.manual_seed(0)
    ref = MixVisionTransformer(embed_dims=16, num_layers=[1, 2, 1, 1],
                               num_heads=[1, 2, 3, 4])
    state = {'backbone.' + k: v for k, v in ref.state_dict().items()}
    state['decode_head.conv_seg.weight'] = torch.zeros(5, 8, 1, 1)
    state['decode_head.fusion_conv.conv.weight'] = torch.zeros(8, 32, 1, 1)
    torch.save({'state_dict': state}, tmp_path / 'mmseg.pth')
    assert load_tool().main([str(tmp_path / 'mmseg.pth'),
                             str(tmp_path / 'out.pth'), '--src',
                             'mmseg']) == 0
    assert 'decode_head.fusion_conv.conv' in capsys.readouterr().out
    holder = nn.Module()
    holder.backbone = small_mit()
    load_checkpoint(holder, str(tmp_path / 'out.pth'), strict=True)
    torch.testing.assert_close(holder.backbone.stages[1].blocks[0].attn.kv.
                               weight, ref.layers[1][1][0].attn.attn.
                               in_proj_weight[32:])


def test_unknown_keys_are_listed():
    state = official_encoder_state()
    state['block1.0.attn.rel_pos'] = torch.zeros(3)
    state['pos_embed'] = torch.zeros(3)
    with pytest.raises(KeyError, match=r"block1.0.attn.rel_pos.*pos_embed"):
        convert_segformer(state, 'official')
    with pytest.raises(KeyError, match='--src'):
        convert_segformer(official_encoder_state(), 'mmseg')
    with pytest.raises(ValueError, match='src'):
        convert_segformer(state, 'timm')


def test_missing_keys_are_listed_and_nothing_is_written(tmp_path, capsys):
    state = official_encoder_state()
    del state['block2.1.mlp.fc2.bias']
    del state['norm3.weight']
    torch.save(state, tmp_path / 'broken.pth')
    dst = tmp_path / 'out.pth'
    dst.write_bytes(b'previous output')
    assert load_tool().main([str(tmp_path / 'broken.pth'), str(dst),
                             '--src', 'official']) == 1
    err = capsys.readouterr().err
    assert 'stages.1.blocks.1.ffn.fc2.bias' in err
    assert 'stages.2.norm.weight' in err
    assert dst.read_bytes() == b'previous output'


def test_missing_source_file_is_a_clear_error(tmp_path, capsys):
    assert load_tool().main([str(tmp_path / 'nope.pth'),
                             str(tmp_path / 'out.pth'), '--src',
                             'official']) == 2
    assert 'src: no such file' in capsys.readouterr().err


def test_missing_pretrained_file_names_the_field_and_the_fix(tmp_path):
    model = MiT('b0', init_cfg=dict(type='Pretrained',
                                    checkpoint=str(tmp_path / 'mit.pth')))
    with pytest.raises(FileNotFoundError,
                       match='backbone.init_cfg.checkpoint.*segformer2mmext'):
        model.init_weights()


def test_missing_head_keys_are_listed(tmp_path, capsys):
    state = official_segmentor_state()
    del state['decode_head.linear_c4.proj.bias']
    del state['decode_head.linear_fuse.bn.running_var']
    torch.save({'state_dict': state}, tmp_path / 'seg.pth')
    assert load_tool().main([str(tmp_path / 'seg.pth'),
                             str(tmp_path / 'out.pth'), '--src',
                             'official']) == 1
    err = capsys.readouterr().err
    assert 'decode_head.level_projs.3.bias' in err
    assert 'decode_head.fuse_norm.running_var' in err
    assert not (tmp_path / 'out.pth').exists()
