"""Channel groups traced by Torch-Pruning, as mmext describes them."""
import pytest
import torch

from mmext.pruning.graph import build_channel_groups
from ._models import Detector, resnet18_classifier


def _by_key(groups):
    return {g.key: g for g in groups}


def test_resnet_classifier_groups():
    model = resnet18_classifier(width=16)
    groups = _by_key(build_channel_groups(model, torch.randn(1, 3, 64, 64)))
    # 8 block-internal groups + stem/layer1 stream + 3 residual streams;
    # the classifier's output (head.fc) is never prunable.
    assert len(groups) == 12
    assert 'head.fc' not in groups
    stream = groups['backbone.layer2.0.conv2']
    assert stream.num_channels == 32
    assert {m.name for m in stream.producers} == {
        'backbone.layer2.0.downsample.0', 'backbone.layer2.0.conv2',
        'backbone.layer2.1.conv2'
    }
    assert {m.name for m in stream.norms} == {
        'backbone.layer2.0.downsample.1', 'backbone.layer2.0.bn2',
        'backbone.layer2.1.bn2'
    }
    assert {m.name for m in stream.consumers} == {
        'backbone.layer2.1.conv1', 'backbone.layer3.0.conv1',
        'backbone.layer3.0.downsample.0'
    }
    last = groups['backbone.layer4.0.conv2']
    assert 'head.fc' in {m.name for m in last.consumers}
    inner = groups['backbone.layer1.0.conv1']
    assert [m.name for m in inner.norms] == ['backbone.layer1.0.bn1']
    assert torch.equal(inner.producers[0].module_index, torch.arange(16))


def test_detector_scope_protects_outputs():
    groups = _by_key(
        build_channel_groups(Detector(), torch.randn(1, 3, 64, 64),
                             scope=('backbone', 'neck')))
    # FPN output convs feed the heads: never pruned.
    assert not any(k.startswith('neck.fpn_convs') for k in groups)
    laterals = groups['neck.lateral_convs.0.conv']
    assert len(laterals.producers) == 4
    assert 'backbone.conv1' in groups


def test_ignored_layers_and_bad_arguments():
    model = resnet18_classifier()
    x = torch.randn(1, 3, 64, 64)
    keys = {g.key for g in build_channel_groups(
        model, x, ignored_layers=('backbone.conv1', ))}
    assert 'backbone.conv1' not in keys
    with pytest.raises(ValueError, match='no module named'):
        build_channel_groups(model, x, ignored_layers=('backbone.stem', ))
    with pytest.raises(ValueError, match='not a sub-module'):
        build_channel_groups(model, x, scope=('backbone', 'nekc'))


def test_tracing_leaves_batchnorm_statistics_alone():
    model = resnet18_classifier().train()
    before = model.backbone.bn1.running_mean.clone()
    build_channel_groups(model, torch.randn(2, 3, 32, 32))
    assert model.training
    assert torch.equal(model.backbone.bn1.running_mean, before)
