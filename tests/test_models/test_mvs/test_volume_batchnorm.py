"""VolumeBatchNorm3d: BatchNorm whose eval mode can use each cost volume's
own statistics, and the configs that choose it."""
import pytest
import torch
from mmengine.config import Config
from torch import nn

from mmext.models.mvs import (CostRegularization3D, CVPMVSNetCore,
                              VolumeBatchNorm3d)


def _pair(seed: int = 0):
    """A VolumeBatchNorm3d and an nn.BatchNorm3d with the same non-trivial
    affine parameters and running statistics."""
    torch.manual_seed(seed)
    plain = nn.BatchNorm3d(3)
    with torch.no_grad():
        plain.weight.uniform_(0.5, 2.0)
        plain.bias.uniform_(-1.0, 1.0)
        plain.running_mean.uniform_(-1.0, 1.0)
        plain.running_var.uniform_(0.5, 2.0)
    volume = VolumeBatchNorm3d(3, eval_stats='volume')
    volume.load_state_dict(plain.state_dict())
    return volume, plain


def _volumes(batch: int = 2) -> torch.Tensor:
    torch.manual_seed(1)
    # Per-sample offsets and scales, so that per-volume and batch statistics
    # differ from each other and from the running statistics.
    x = torch.randn(batch, 3, 4, 5, 6)
    return x * torch.arange(1, batch + 1).view(-1, 1, 1, 1, 1) + 3.0


def test_state_dict_is_batchnorm3d():
    volume, plain = _pair()
    assert list(volume.state_dict()) == list(plain.state_dict())
    for key, value in plain.state_dict().items():
        assert torch.equal(volume.state_dict()[key], value)


def test_volume_stats_equal_training_batchnorm_of_each_sample_alone():
    volume, plain = _pair()
    x = _volumes(2)
    running = plain.running_mean.clone(), plain.running_var.clone()
    out = volume.eval()(x)
    for i in range(2):
        sample = x[i:i + 1]
        mean = sample.mean(dim=(0, 2, 3, 4)).view(1, -1, 1, 1, 1)
        var = sample.var(dim=(0, 2, 3, 4), unbiased=False).view(
            1, -1, 1, 1, 1)
        expected = ((sample - mean) / torch.sqrt(var + plain.eps) *
                    plain.weight.view(1, -1, 1, 1, 1) +
                    plain.bias.view(1, -1, 1, 1, 1))
        torch.testing.assert_close(out[i:i + 1], expected)
    # Eval mode never moves the running statistics.
    assert torch.equal(volume.running_mean, running[0])
    assert torch.equal(volume.running_var, running[1])
    # ... and the output is not what the running statistics give.
    assert not torch.allclose(out, plain.eval()(x), atol=1e-3)


def test_running_eval_and_training_match_batchnorm3d():
    volume, plain = _pair()
    volume.eval_stats = 'running'
    x = _volumes(2)
    torch.testing.assert_close(volume.eval()(x), plain.eval()(x))
    volume, plain = _pair()  # 'volume': training is plain BatchNorm
    torch.testing.assert_close(volume.train()(x), plain.train()(x))
    torch.testing.assert_close(volume.running_mean, plain.running_mean)
    torch.testing.assert_close(volume.running_var, plain.running_var)


def test_option_reaches_every_batchnorm_and_bad_values_are_named():
    net = CVPMVSNetCore(norm_eval_stats='volume')
    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm3d)]
    assert norms and all(
        isinstance(m, VolumeBatchNorm3d) and m.eval_stats == 'volume'
        for m in norms)
    assert all(m.eval_stats == 'running'
               for m in CostRegularization3D().modules()
               if isinstance(m, VolumeBatchNorm3d))
    with pytest.raises(ValueError, match='norm_eval_stats'):
        CVPMVSNetCore(norm_eval_stats='batch')
    with pytest.raises(ValueError, match='eval_stats'):
        VolumeBatchNorm3d(4, eval_stats='instance')


@pytest.mark.parametrize('name, expected', [
    ('cvp-mvsnet_2l-nsrc2_1xb4-1600it_shapes-mvs-64x80', 'volume'),
    ('cvp-mvsnet_3l-nsrc4_1xb4-1600it_shapes-mvs-128x160', 'volume'),
    ('cvp-mvsnet-unsup_2l-nsrc4_1xb4-1000it_shapes-mvs-64x80', 'volume'),
    ('cvp-mvsnet-selfsup_2l-nsrc2_1xb4-1600it-2r_shapes-mvs-64x80', 'volume'),
    # The DTU configs keep the released behaviour (converted checkpoints).
    ('cvp-mvsnet_5l-nsrc4_1xb16-40e_dtu-1184x1600', None),
    ('cvp-mvsnet_2l-nsrc2_1xb16-40e_dtu-128x160', None),
])
def test_configs_choose_eval_stats(name, expected):
    cfg = Config.fromfile(f'configs/cvp_mvsnet/{name}.py')
    assert cfg.model.get('norm_eval_stats') == expected
