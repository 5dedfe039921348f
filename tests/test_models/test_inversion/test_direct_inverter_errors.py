"""mmext.DirectInverter refuses bad input with errors that name the field
(the split, the features, the target's files, the loss weights, the
schedule and the image size)."""
import pytest
import torch
from mmengine.registry import DefaultScope

from mmext.registry import MODELS


def build(target: dict, **kwargs):
    cfg = dict(type='mmext.DirectInverter', target=target, split='layer1',
               image_size=(32, 32), width=8)
    cfg.update(kwargs)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(cfg)


@pytest.mark.parametrize('split', ['layer9', 'layer1.7', 'neck', 'conv1'])
def test_unknown_split_lists_the_valid_names(target_cfg, split):
    with pytest.raises(ValueError, match=f'split={split!r}') as error:
        build(target_cfg, split=split)
    for name in ('stem', 'layer1', 'layer1.0', 'layer1.1', 'layer4',
                 'layer4.1'):
        assert repr(name) in str(error.value), name


@pytest.mark.parametrize('split', ['stem', 'layer1', 'layer2.0', 'layer4'])
def test_valid_splits_build(target_cfg, split):
    assert build(target_cfg, split=split).split == split


@pytest.mark.parametrize('shape', [(2, 16, 8, 8), (2, 8, 4, 4),
                                   (2, 8, 8, 9), (8, 8, 8)])
def test_features_of_another_shape_are_refused(target_cfg, shape):
    # layer1 of the tiny ResNet-18 at 32 px: [N, 8, 8, 8]
    model = build(target_cfg)
    assert model.feature_shape == (8, 8, 8)
    assert model.invert(torch.zeros(2, 8, 8, 8)).shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match=r'features.*\[N, 8, 8, 8\]') as \
            error:
        model.invert(torch.zeros(shape))
    assert str(list(shape)) in str(error.value)


def test_images_of_another_size_are_refused_at_predict(target_cfg):
    model = build(target_cfg)
    with pytest.raises(ValueError, match=r'\[N, 8, 8, 8\].*image_size'):
        model(torch.zeros(1, 3, 64, 64), mode='predict')


def test_missing_target_config_names_the_field(tmp_path):
    missing = str(tmp_path / 'no_such_config.py')
    with pytest.raises(FileNotFoundError,
                       match='model.target.config') as error:
        build(dict(config=missing, checkpoint=None))
    assert missing in str(error.value)


def test_missing_target_checkpoint_names_the_field(target_cfg, tmp_path):
    missing = str(tmp_path / 'no_such.pth')
    target_cfg['checkpoint'] = missing
    with pytest.raises(FileNotFoundError,
                       match='model.target.checkpoint') as error:
        build(target_cfg)
    assert missing in str(error.value)


def test_checkpoint_of_another_architecture_is_refused(target_cfg, tmp_path):
    wider = dict(target_cfg)
    wider.pop('checkpoint')
    wider['backbone'] = dict(wider['backbone'], base_channels=16)
    with pytest.raises(RuntimeError, match='size mismatch'):
        build(wider | dict(checkpoint=target_cfg['checkpoint']))


@pytest.mark.parametrize('weights, match', [
    (dict(cycles=1.0), r"unknown terms \['cycles'\]"),
    (dict(image=1.0, recon=1.0), r"unknown terms \['recon'\]"),
    (dict(cycle=-1.0), r"\['cycle'\] must be >= 0"),
])
def test_bad_loss_weights_name_the_term(target_cfg, weights, match):
    with pytest.raises(ValueError, match='model.loss_weights') as error:
        build(target_cfg, loss_weights=weights)
    assert error.match(match)


def test_negative_stage1_iters_is_refused(target_cfg):
    with pytest.raises(ValueError, match='model.stage1_iters.*-1'):
        build(target_cfg, stage1_iters=-1)
    assert build(target_cfg, stage1_iters=0).stage1_iters == 0


@pytest.mark.parametrize('image_size', [(0, 32), (32, -1), (32, ), 0,
                                        (32, 32, 3), '32'])
def test_bad_image_size_is_refused(target_cfg, image_size):
    with pytest.raises(ValueError, match='model.image_size'):
        build(target_cfg, image_size=image_size)


def test_square_image_size_from_an_int(target_cfg):
    assert build(target_cfg, image_size=32).image_size == (32, 32)
