import copy

import pytest
import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import MODELS as ROOT_MODELS
from mmengine.registry import DefaultScope, init_default_scope
from torch import nn

from mmext.models.cls import ImageClassifier, LinearClsHead
from mmext.structures import ClsDataSample

PREPROCESSOR = dict(
    type='ImgDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True)


@pytest.fixture
def restore_scope():
    saved = copy.copy(DefaultScope._instance_dict)
    yield
    DefaultScope._instance_dict = saved


def _samples(labels):
    out = []
    for label in labels:
        sample = ClsDataSample()
        sample.gt_label = int(label)
        out.append(sample)
    return out


class _FlatBackbone(nn.Module):
    """Returns pooled [N, C] features directly (no pooling needed)."""

    def __init__(self, channels: int = 6) -> None:
        super().__init__()
        self.proj = nn.Linear(3, channels)

    def forward(self, x):
        return self.proj(x.mean(dim=(2, 3)))


class _TupleBackbone(nn.Module):
    """Returns two feature maps, [N, 4, H, W] then [N, 6, H/2, W/2]."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 6, 3, stride=2, padding=1)

    def forward(self, x):
        c1 = self.conv1(x)
        return c1, self.conv2(c1)


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg'])
def test_build_from_host_scope_and_modes(scope, restore_scope):
    init_default_scope(scope)
    model = ROOT_MODELS.build(
        dict(
            type='mmext.ImageClassifier',
            backbone=dict(type='mmdet.ResNet', depth=18),
            in_channels=512,
            num_classes=5,
            data_preprocessor=PREPROCESSOR))
    from mmdet.models.backbones import ResNet
    from mmengine.model import ImgDataPreprocessor
    assert isinstance(model, ImageClassifier)
    assert isinstance(model.backbone, ResNet)
    assert isinstance(model.data_preprocessor, ImgDataPreprocessor)
    assert model.num_classes == 5
    model.init_weights()

    torch.manual_seed(0)
    inputs = torch.rand(2, 3, 32, 32)
    assert model.extract_feat(inputs).shape == (2, 512)
    logits = model(inputs, mode='tensor')
    assert logits.shape == (2, 5)

    losses = model(inputs, _samples([1, 4]), mode='loss')
    assert set(losses) == {'loss'}
    assert losses['loss'].ndim == 0 and torch.isfinite(losses['loss'])
    assert losses['loss'].requires_grad

    model.eval()
    samples = _samples([1, 4])
    preds = model(inputs, samples, mode='predict')
    assert preds[0] is samples[0] and len(preds) == 2
    logits = model(inputs, mode='tensor')
    for i, pred in enumerate(preds):
        assert pred.pred_score.shape == (5, )
        assert pred.pred_score.sum().item() == pytest.approx(1.0, abs=1e-5)
        assert pred.pred_label.dtype == torch.long
        assert pred.pred_label.shape == (1, )
        assert pred.pred_label.item() == logits[i].argmax().item()
        assert pred.gt_label.item() == [1, 4][i]
    # Without data samples new ones are created.
    fresh = model(inputs, mode='predict')
    assert len(fresh) == 2 and 'gt_label' not in fresh[0]
    torch.testing.assert_close(fresh[1].pred_score, preds[1].pred_score)


def test_in_channels_mismatch_names_the_fix():
    model = ImageClassifier(
        backbone=_TupleBackbone(), in_channels=4, num_classes=3)
    with pytest.raises(ValueError, match=r'set in_channels=6 in the model'):
        model(torch.rand(2, 3, 8, 8))
    # The last feature map of the tuple is pooled.
    model = ImageClassifier(
        backbone=_TupleBackbone(), in_channels=6, num_classes=3)
    assert model.extract_feat(torch.rand(2, 3, 8, 8)).shape == (2, 6)


def test_bad_mode_and_missing_labels():
    model = ImageClassifier(
        backbone=_FlatBackbone(6), in_channels=6, num_classes=3)
    inputs = torch.rand(2, 3, 8, 8)
    with pytest.raises(ValueError, match='invalid mode'):
        model(inputs, mode='train')
    with pytest.raises(ValueError, match='one data sample with gt_label'):
        model(inputs, None, mode='loss')
    with pytest.raises(ValueError, match='has no gt_label'):
        model(inputs, [ClsDataSample(), ClsDataSample()], mode='loss')


def test_flat_features_and_label_smoothing():
    torch.manual_seed(0)
    model = ImageClassifier(
        backbone=_FlatBackbone(6),
        in_channels=6,
        num_classes=4,
        label_smoothing=0.2)
    inputs = torch.rand(5, 3, 8, 8)
    labels = torch.tensor([0, 1, 2, 3, 1])
    loss = model(inputs, _samples(labels), mode='loss')['loss']
    logp = model(inputs).log_softmax(dim=1)
    nll = -logp[torch.arange(5), labels]
    expected = (0.8 * nll - 0.2 * logp.mean(dim=1)).mean()
    torch.testing.assert_close(loss, expected)


def test_head_validates_arguments():
    with pytest.raises(ValueError, match='label_smoothing'):
        LinearClsHead(8, 2, label_smoothing=1.0)
    with pytest.raises(ValueError, match='num_classes'):
        LinearClsHead(8, 0)


def test_loss_falls_on_separable_problem():
    """20 SGD steps through train_step (data preprocessor included)."""
    torch.manual_seed(0)
    model = ImageClassifier(
        backbone=dict(
            type='mmdet.ResNet',
            depth=18,
            base_channels=8,
            out_indices=(3, ),
            norm_eval=False),
        in_channels=64,
        num_classes=3,
        data_preprocessor=PREPROCESSOR)
    model.init_weights()
    # Class k: channel k bright, others dark, plus noise. uint8 CHW images.
    labels = torch.arange(12) % 3
    imgs = torch.randint(0, 60, (12, 3, 16, 16))
    imgs[torch.arange(12), labels] += 150
    data = dict(
        inputs=list(imgs.to(torch.uint8)), data_samples=_samples(labels))
    optim = OptimWrapper(
        torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
    model.train()
    losses = [
        model.train_step(data, optim)['loss'].item() for _ in range(20)
    ]
    assert sum(losses[-3:]) / 3 < 0.5 * losses[0], losses
    model.eval()
    preds = model.val_step(data)
    acc = sum(int(p.pred_label.item() == p.gt_label.item())
              for p in preds) / len(preds)
    assert acc > 0.9, acc
