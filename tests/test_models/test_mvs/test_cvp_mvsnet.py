"""CVPMVSNet: shapes, MMEngine modes and data flow, learning on a synthetic
plane, and input errors."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper

from mmext.models.mvs import CVPMVSNet, CVPMVSNetCore, MVSDataPreprocessor
from mmext.registry import MODELS

H, W, Z0 = 32, 40, 4.0
RANGE = (torch.tensor([2.5]), torch.tensor([6.5]))


def tiny(**kwargs):
    cfg = dict(type='mmext.CVPMVSNet', num_levels=2, num_initial_planes=8,
               residual_interval=0.25)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def gt_levels(num_levels, batch=1, depth=Z0):
    return [torch.full((batch, H >> lv, W >> lv), depth)
            for lv in range(num_levels)]


@pytest.mark.parametrize('num_levels', [2, 3])
def test_tensor_mode_shapes(plane_scene, num_levels):
    torch.manual_seed(0)
    model = tiny(num_levels=num_levels)
    imgs, ks, es = plane_scene(height=H, width=W, z0=Z0)
    out = model(imgs, ks, es, *RANGE)
    assert set(out) == {'depths', 'confidence'}
    assert [tuple(d.shape) for d in out['depths']] == [
        (1, H >> lv, W >> lv) for lv in range(num_levels)
    ]
    assert out['confidence'].shape == (1, H, W)
    assert ((out['confidence'] >= 0) & (out['confidence'] <= 1 + 1e-6)).all()
    coarsest = out['depths'][-1]
    assert ((coarsest >= 2.5 - 1e-4) & (coarsest <= 6.5 + 1e-4)).all()


class ImagePyramid(torch.nn.Module):
    """Stand-in feature pyramid: the images themselves (2x2 averages)."""

    def forward(self, images, num_levels):
        levels = [images]
        for _ in range(num_levels - 1):
            levels.append(F.avg_pool2d(levels[-1], 2))
        return levels


class SharpestMatch(torch.nn.Module):
    """Stand-in regulariser: logits = -variance (sharpened), so softmax
    and soft-argmin pick the photo-consistent hypothesis."""

    def forward(self, cost):
        return -1e5 * cost.mean(dim=1)


@pytest.mark.parametrize('num_levels', [2, 3])
def test_plane_sweep_with_a_photometric_cost_recovers_the_plane(
        plane_scene, num_levels):
    # The network's geometry alone (views, intrinsics per level, warping,
    # variance, hypotheses, refinement) with a hand-made cost: classic
    # plane sweep must find the plane at Z0.
    imgs, ks, es = plane_scene(height=H, width=W, z0=Z0)
    core = CVPMVSNetCore(num_levels=num_levels, num_initial_planes=16,
                         residual_interval=0.1)
    core.feature_pyramid = ImagePyramid()
    core.cost_regularization = SharpestMatch()

    def error(views):
        depth = core(*[t[:, views] for t in (imgs, ks, es)],
                     *RANGE)['depths'][0]
        centre = depth[0, H // 4:3 * H // 4, W // 4:3 * W // 4]
        return (centre - Z0).abs().median().item()

    assert error([0, 1, 2]) < 0.01
    # With view 2 as the reference, the plane is not at depth Z0.
    assert error([2, 1, 0]) > 0.05


def test_refinement_searches_the_residual_window(plane_scene):
    torch.manual_seed(0)
    interval = 0.25
    model = tiny(residual_interval=interval).eval()
    imgs, ks, es = plane_scene(height=H, width=W, z0=Z0)
    with torch.no_grad():
        fine, coarse = model(imgs, ks, es, *RANGE)['depths']
    upsampled = F.interpolate(coarse[:, None], scale_factor=2,
                              mode='bicubic', align_corners=False)[:, 0]
    offset = fine - upsampled
    # Hypotheses upsampled + k * interval, k = -4 .. 3.
    assert (offset >= -4 * interval - 1e-5).all()
    assert (offset <= 3 * interval + 1e-5).all()
    assert offset.abs().max() > 0.1 * interval


def test_loss_reaches_the_pyramid_and_the_regulariser(plane_scene):
    torch.manual_seed(0)
    model = tiny()
    imgs, ks, es = plane_scene(height=H, width=W, z0=Z0)
    losses = model(imgs, ks, es, *RANGE, depths=gt_levels(3), mode='loss')
    assert set(losses) == {'loss_depth'}
    assert torch.isfinite(losses['loss_depth'])
    losses['loss_depth'].backward()
    core = model.core
    for param in (core.feature_pyramid.convs[0].weight,
                  core.cost_regularization.enc0[0].conv.weight,
                  core.cost_regularization.logits.weight):
        assert param.grad is not None and param.grad.abs().sum() > 0


def test_a_few_steps_on_a_plane_reduce_the_loss(plane_scene):
    torch.manual_seed(0)
    model = tiny()
    imgs, ks, es = plane_scene(height=H, width=W, z0=Z0)
    gt = gt_levels(2)
    optim = torch.optim.Adam(model.parameters(), lr=1e-3)
    history = []
    for _ in range(8):
        loss = model(imgs, ks, es, *RANGE, depths=gt, mode='loss')
        optim.zero_grad()
        loss['loss_depth'].backward()
        optim.step()
        history.append(loss['loss_depth'].item())
    assert history[-1] < 0.5 * history[0], history


def test_predict_returns_one_dict_per_sample(plane_scene):
    torch.manual_seed(0)
    model = tiny().eval()
    imgs, ks, es = plane_scene(height=H, width=W, z0=Z0)
    batch = [t.expand(2, *t.shape[1:]) for t in (imgs, ks, es)]
    metas = [dict(scan='scan1', view=0, light=3),
             dict(scan='scan1', view=1, light=None)]
    low, high = torch.tensor([2.5, 2.0]), torch.tensor([6.5, 7.0])
    with torch.no_grad():
        results = model(*batch, low, high, depths=gt_levels(2, 2),
                        data_samples=metas, mode='predict')
        bare = model(*batch, low, high, mode='predict')
    assert len(results) == 2
    assert results[1]['view'] == 1 and results[1]['light'] is None
    assert results[0]['depth'].shape == results[0]['confidence'].shape == (
        H, W)
    assert results[1]['depth_min'] == 2.0 and results[1]['depth_max'] == 7.0
    assert torch.equal(results[0]['gt_depth'], torch.full((H, W), Z0))
    assert 'gt_depth' not in bare[0] and 'scan' not in bare[0]
    torch.testing.assert_close(bare[1]['depth'], results[1]['depth'])


def test_epipolar_interval_and_reference_quirks_run(plane_scene):
    imgs, ks, es = plane_scene(height=H, width=W, z0=Z0)
    torch.manual_seed(0)
    plain = tiny(residual_interval='epipolar').eval()
    quirks = tiny(residual_interval='epipolar', reference_quirks=True).eval()
    quirks.load_state_dict(plain.state_dict())
    with torch.no_grad():
        a = plain(imgs, ks, es, *RANGE)['depths'][0]
        b = quirks(imgs, ks, es, *RANGE)['depths'][0]
    assert torch.isfinite(a).all() and torch.isfinite(b).all()
    assert not torch.allclose(a, b)


def _items(plane_scene, num=2):
    imgs, ks, es = plane_scene(height=H, width=W, z0=Z0)
    return [
        dict(imgs=imgs[0], intrinsics=ks[0], extrinsics=es[0],
             depth_min=2.5, depth_max=6.5,
             depths=[d[0] for d in gt_levels(2)],
             meta=dict(scan=f'scan{i}', view=i, light=None,
                       src_views=[i + 1, i + 2]))
        for i in range(num)
    ]


def test_data_preprocessor_stacks_a_pseudo_collated_batch(plane_scene):
    data = MVSDataPreprocessor()(pseudo_collate(_items(plane_scene)))
    assert set(data) == {'imgs', 'intrinsics', 'extrinsics', 'depth_min',
                         'depth_max', 'depths', 'data_samples'}
    assert data['imgs'].shape == (2, 3, 3, H, W)
    assert data['intrinsics'].shape == (2, 3, 3, 3)
    assert data['extrinsics'].shape == (2, 3, 4, 4)
    assert torch.equal(data['depth_min'], torch.tensor([2.5, 2.5]))
    assert [tuple(d.shape) for d in data['depths']] == [(2, H, W),
                                                        (2, H // 2, W // 2)]
    assert data['data_samples'][1] == dict(scan='scan1', view=1, light=None,
                                           src_views=[2, 3])
    items = _items(plane_scene, 1)
    del items[0]['depths'], items[0]['meta']
    data = MVSDataPreprocessor()(pseudo_collate(items))
    assert 'depths' not in data and data['data_samples'] is None
    with pytest.raises(KeyError, match="lacks \\['depth_max'\\]"):
        MVSDataPreprocessor()(dict(imgs=[], intrinsics=[], extrinsics=[],
                                   depth_min=[]))


def test_train_step_and_val_step_through_mmengine(plane_scene):
    torch.manual_seed(0)
    model = tiny()
    batch = pseudo_collate(_items(plane_scene))
    optim = OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-3))
    log = model.train_step(batch, optim)
    assert set(log) == {'loss', 'loss_depth'} and torch.isfinite(log['loss'])
    model.eval()
    results = model.val_step(batch)
    assert [r['scan'] for r in results] == ['scan0', 'scan1']
    assert results[0]['gt_depth'].shape == (H, W)


def test_input_errors_name_the_field(plane_scene):
    model = tiny(num_levels=3)
    imgs, ks, es = plane_scene(height=H, width=W, z0=Z0)
    with pytest.raises(ValueError, match=r'imgs: .*divisible by 2\*\*\('
                       r'num_levels - 1\) = 4 for num_levels=3'):
        model(imgs[..., :30, :], ks, es, *RANGE)
    with pytest.raises(ValueError, match='coarsest level .*must have even'):
        tiny(num_levels=2)(F.pad(imgs, (0, 0, 0, 2)), ks, es, *RANGE)
    with pytest.raises(ValueError, match='depth_min/depth_max: .*samples '
                       r'\[0\]'):
        model(imgs, ks, es, RANGE[1], RANGE[0])
    with pytest.raises(ValueError, match=r'intrinsics: expected \[1, 3, 3, '
                       r'3\]'):
        model(imgs, ks[:, :2], es, *RANGE)
    with pytest.raises(ValueError, match=r'extrinsics: expected'):
        model(imgs, ks, es[:, :2], *RANGE)
    with pytest.raises(ValueError, match='V >= 2'):
        model(imgs[:, :1], ks[:, :1], es[:, :1], *RANGE)
    with pytest.raises(ValueError, match='depths: .*needs ground truth'):
        model(imgs, ks, es, *RANGE, mode='loss')
    with pytest.raises(RuntimeError, match='invalid mode'):
        model(imgs, ks, es, *RANGE, mode='nope')


def test_config_errors():
    with pytest.raises(ValueError, match='num_initial_planes: need an even'):
        CVPMVSNetCore(num_initial_planes=47)
    with pytest.raises(ValueError, match='num_residual_planes'):
        CVPMVSNetCore(num_residual_planes=7)
    with pytest.raises(ValueError, match='residual_interval'):
        CVPMVSNetCore(residual_interval='epipolr')
    with pytest.raises(ValueError, match='residual_interval'):
        CVPMVSNetCore(residual_interval=-1.0)
    with pytest.raises(ValueError, match='num_levels'):
        CVPMVSNetCore(num_levels=0)
    assert isinstance(CVPMVSNet().data_preprocessor, MVSDataPreprocessor)
