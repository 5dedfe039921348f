"""MiT encoder: parity with mmseg 1.2.2, paper sizes, options, errors."""
import pytest
import torch
from mmseg.models import backbones as mmseg_backbones

from mmext.models.seg import MIT_ARCHS, MiT
from mmext.models.seg.segformer_convert import convert_segformer


def mmseg_mit(arch: str, seed: int = 0):
    """A randomly initialised mmseg ``MixVisionTransformer`` of ``arch``."""
    spec = MIT_ARCHS[arch]
    torch.manual_seed(seed)
    model = mmseg_backbones.MixVisionTransformer(
        embed_dims=spec.embed_dims[0], num_layers=list(spec.depths),
        num_heads=list(spec.num_heads), sr_ratios=list(spec.sr_ratios),
        drop_path_rate=spec.drop_path_rate)
    model.init_weights()
    # Non-trivial LayerNorm affine parameters, so the norms are checked too.
    with torch.no_grad():
        for name, param in model.named_parameters():
            if 'norm' in name:
                param.add_(0.1 * torch.randn_like(param))
    return model.eval()


@pytest.mark.parametrize('arch', ['b0', 'b2'])
@pytest.mark.parametrize('size', [(512, 512), (200, 296)])
def test_matches_mmseg_features(arch, size):
    ref = mmseg_mit(arch)
    ours = MiT(arch).eval()
    ours.load_state_dict(convert_segformer(ref.state_dict(), 'mmseg'),
                         strict=True)
    torch.manual_seed(1)
    image = torch.randn(1, 3, *size)
    with torch.no_grad():
        expected = ref(image)
        got = ours(image)
    assert len(got) == 4
    for stage, (e, g) in enumerate(zip(expected, got)):
        assert g.shape == e.shape
        stride = 4 * 2**stage
        assert g.shape[2:] == ((size[0] + stride - 1) // stride,
                               (size[1] + stride - 1) // stride)
        assert g.is_contiguous(memory_format=torch.channels_last)
        diff = (e - g).abs().max().item()
        assert diff <= 1e-4, f'stage {stage}: max abs diff {diff}'


def test_arch_table_is_the_paper():
    assert MIT_ARCHS['b0'].embed_dims == (32, 64, 160, 256)
    assert {a: s.depths for a, s in MIT_ARCHS.items()} == {
        'b0': (2, 2, 2, 2), 'b1': (2, 2, 2, 2), 'b2': (3, 4, 6, 3),
        'b3': (3, 4, 18, 3), 'b4': (3, 8, 27, 3), 'b5': (3, 6, 40, 3)}
    for spec in MIT_ARCHS.values():
        assert spec.num_heads == (1, 2, 5, 8)
        assert spec.sr_ratios == (8, 4, 2, 1)
        assert spec.mlp_ratio == 4


def test_explicit_arguments_override_arch():
    model = MiT('b0', depths=(1, 1, 1, 1), embed_dims=(16, 32, 64, 128),
                num_heads=(1, 2, 4, 8), out_indices=(1, 3))
    assert [len(s.blocks) for s in model.stages] == [1, 1, 1, 1]
    feats = model(torch.rand(2, 3, 64, 96))
    assert [tuple(f.shape) for f in feats] == [(2, 32, 8, 12),
                                               (2, 128, 2, 3)]


def test_out_indices_stop_early():
    model = MiT('b0', out_indices=(0, ))
    feats = model(torch.rand(1, 3, 64, 64))
    assert [tuple(f.shape) for f in feats] == [(1, 32, 16, 16)]


def test_drop_path_is_linear_over_all_blocks():
    model = MiT('b2', drop_path_rate=0.3)
    rates = [b.drop_path.drop_prob for s in model.stages for b in s.blocks]
    assert len(rates) == 16
    assert rates[0] == 0.0
    assert rates[-1] == pytest.approx(0.3)
    assert rates[8] == pytest.approx(0.3 * 8 / 15)


def test_with_cp_gives_the_same_gradients():
    torch.manual_seed(0)
    plain = MiT('b0', drop_path_rate=0.0)
    recomputed = MiT('b0', drop_path_rate=0.0, with_cp=True)
    recomputed.load_state_dict(plain.state_dict())
    image = torch.rand(2, 3, 64, 64)
    grads = []
    for model in (plain, recomputed):
        model.train()
        loss = sum(f.square().mean() for f in model(image))
        loss.backward()
        grads.append(model.stages[0].blocks[0].attn.q.weight.grad.clone())
    torch.testing.assert_close(grads[0], grads[1])


def test_training_fits_a_small_batch():
    torch.manual_seed(0)
    model = MiT('b0', depths=(1, 1, 1, 1))
    classifier = torch.nn.Linear(256, 4)
    params = list(model.parameters()) + list(classifier.parameters())
    optim = torch.optim.AdamW(params, lr=1e-3)
    images = torch.rand(4, 3, 64, 64)
    labels = torch.tensor([0, 1, 2, 3])
    losses = []
    for _ in range(25):
        logits = classifier(model(images)[-1].mean((2, 3)))
        loss = torch.nn.functional.cross_entropy(logits, labels)
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]


def test_bad_arguments_name_the_field():
    with pytest.raises(ValueError, match='arch'):
        MiT('b9')
    with pytest.raises(ValueError, match='depths'):
        MiT('b0', depths=(2, 2))
    with pytest.raises(ValueError, match='out_indices'):
        MiT('b0', out_indices=(4, ))
    with pytest.raises(ValueError, match='num_heads'):
        MiT('b0', num_heads=(3, 2, 5, 8))


def test_builds_from_mmseg_and_mmdet_scopes():
    from mmengine.registry import MODELS as ROOT
    from mmengine.registry import DefaultScope
    for scope in ('mmseg', 'mmdet'):
        with DefaultScope.overwrite_default_scope(scope):
            model = ROOT.build(dict(type='mmext.MiT', arch='b1',
                                    out_indices=(3, )))
        assert isinstance(model, MiT)
        assert model.embed_dims == (64, 128, 320, 512)
