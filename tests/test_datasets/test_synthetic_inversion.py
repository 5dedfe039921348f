"""Tests of mmext.SyntheticInversionDataset and the image synthesis of
zero-shot direct inversion (mmext.inversion.direct.synthetic).

The target is a tiny mmpretrain ImageClassifier (ResNet-18 of width 8, 4
classes, 16 px) built from a config file whose dataloaders point at a task
data directory that the dataset must never open.
"""
import os
import os.path as osp
import sys

import pytest
import torch
from mmengine.dataset import pseudo_collate

import mmext.datasets.synthetic_inversion as synthetic_inversion
from mmext.datasets import SyntheticInversionDataset
from mmext.datasets.synthetic_inversion import noise_item_seed
from mmext.inversion.direct import build_target, pixel_normalisation
from mmext.inversion.direct.augment import SyntheticAugment
from mmext.inversion.direct.synthetic import (bn_synthesized_images,
                                              natural_noise_images,
                                              normalise_images)
from mmext.inversion.objective import BNStatisticsPrior
from mmext.registry import DATASETS
from mmext.testing import run_distributed

# On a busy 2-core machine two spinning OpenMP threads make the tiny model
# many times slower.
pytestmark = pytest.mark.usefixtures('one_torch_thread')

SIZE = (16, 16)
# Distinct per-channel statistics: a missing or extra channel swap shows.
MEAN = [150.0, 100.0, 60.0]
STD = [70.0, 50.0, 40.0]
# A few DeepInversion steps: enough to exercise the loop.
QUICK = dict(steps=3, batch_size=4, lr=0.1)

CONFIG = '''
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet', depth=18, stem_channels=8, base_channels=8,
                  out_indices=(3, ){norm}),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=4, in_channels=64,
              loss=dict(type='CrossEntropyLoss')))
data_preprocessor = dict(mean={mean}, std={std}, to_rgb=True)
_dataset = dict(type='CustomDataset', data_root={root!r}, data_prefix='',
                pipeline=[dict(type='LoadImageFromFile'),
                          dict(type='PackInputs')])
train_dataloader = dict(batch_size=2, num_workers=0,
                        sampler=dict(type='DefaultSampler', shuffle=True),
                        dataset=_dataset)
val_dataloader = dict(batch_size=2, num_workers=0,
                      sampler=dict(type='DefaultSampler', shuffle=False),
                      dataset=_dataset)
'''


def _write_config(path: str, data_root: str, norm: str = '') -> str:
    with open(path, 'w') as f:
        f.write(CONFIG.format(norm=norm, mean=MEAN, std=STD, root=data_root))
    return path


def _calibrate_batchnorm(model: torch.nn.Module) -> None:
    """Give the BN layers running statistics of images unlike the
    synthesis' starting noise (smoother, lower contrast), and of their
    mirror images, as a classifier trained with flips has."""
    images = natural_noise_images(32, SIZE, torch.Generator().manual_seed(9),
                                  alpha_range=(2.0, 3.0),
                                  contrast_range=(0.2, 0.4))
    mean, std, _ = pixel_normalisation(model)
    inputs = normalise_images(images, mean, std)
    norms = [m for m in model.modules()
             if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average
    model.train()
    with torch.no_grad():
        model(torch.cat([inputs, inputs.flip(3)]), mode='tensor')
    model.eval()
    for norm in norms:
        norm.momentum = 0.1


@pytest.fixture(scope='module')
def task(tmp_path_factory) -> dict:
    """``data_root`` (one image, never to be read), the target
    ``dict(config, checkpoint)``, and a config without BatchNorm."""
    root = tmp_path_factory.mktemp('synthetic_inversion')
    data_root = root / 'task_data'
    (data_root / 'cls').mkdir(parents=True)
    image = data_root / 'cls' / 'img.png'
    image.write_bytes(b'\x89PNG\r\n\x1a\n not a real image')
    config = _write_config(str(root / 'target.py'), str(data_root))
    no_bn = _write_config(
        str(root / 'target_gn.py'), str(data_root),
        norm=", norm_cfg=dict(type='GN', num_groups=4)")
    torch.manual_seed(0)
    model = build_target(dict(config=config))
    _calibrate_batchnorm(model)
    checkpoint = str(root / 'target.pth')
    torch.save({'state_dict': model.state_dict()}, checkpoint)
    return dict(data_root=str(data_root), image=str(image),
                target=dict(config=config, checkpoint=checkpoint),
                no_bn=dict(config=no_bn), root=root)


def _bn_dataset(task: dict, **kwargs) -> SyntheticInversionDataset:
    args = dict(target=task['target'], source='bn', num_images=5,
                image_size=SIZE, seed=3, synthesis=QUICK)
    args.update(kwargs)
    return SyntheticInversionDataset(**args)


def _preprocessed(model: torch.nn.Module, items: list) -> torch.Tensor:
    """The target's data_preprocessor on the dataset's items."""
    return model.data_preprocessor(pseudo_collate(items))['inputs']


def _assert_within_rounding(actual: torch.Tensor,
                            expected: torch.Tensor) -> None:
    """Equal up to uint8 rounding: half a pixel level, in normalised
    units of each channel."""
    tolerance = (0.5 + 1e-3) / torch.tensor(STD).view(-1, 1, 1)
    assert actual.shape == expected.shape
    assert ((actual - expected).abs() <= tolerance).all(), (
        (actual - expected).abs().amax())


# ------------------------------------------------------- augmentation
def _distinct_image(height: int = 10, width: int = 12) -> torch.Tensor:
    """uint8 [3, H, W] with every pixel different."""
    return torch.arange(3 * height * width).view(3, height, width).to(
        torch.uint8)


def test_augment_flips_give_the_four_flips():
    image = _distinct_image()
    flips = [image, image.flip(-1), image.flip(-2), image.flip(-1, -2)]
    augment = SyntheticAugment(flip=True)
    generator = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(40):
        out = augment(image, generator=generator)
        matches = [k for k, f in enumerate(flips) if torch.equal(out, f)]
        assert len(matches) == 1
        seen.add(matches[0])
    assert seen == {0, 1, 2, 3}
    assert torch.equal(SyntheticAugment(flip=False)(image), image)


def test_augment_shift_translates_with_reflected_borders():
    image = _distinct_image(12, 14).float()
    shift = 3
    augment = SyntheticAugment(flip=False, max_shift=shift)
    generator = torch.Generator().manual_seed(1)
    shifts = set()
    for _ in range(30):
        out = augment(image, generator=generator)
        padded = torch.nn.functional.pad(image[None], (shift, ) * 4,
                                         mode='reflect')[0]
        found = [(dy, dx) for dy in range(-shift, shift + 1)
                 for dx in range(-shift, shift + 1)
                 if torch.equal(out, padded[:, shift + dy:shift + dy + 12,
                                            shift + dx:shift + dx + 14])]
        assert len(found) == 1
        shifts.add(found[0])
    assert len(shifts) > 5  # the offsets vary
    assert out.dtype == image.dtype


def test_augment_cutmix_pastes_one_box_of_the_partner():
    image = torch.zeros(3, 16, 20, dtype=torch.uint8)
    partner = torch.full((3, 16, 20), 200, dtype=torch.uint8)
    augment = SyntheticAugment(flip=False, cutmix_prob=1.0)
    generator = torch.Generator().manual_seed(2)
    for _ in range(20):
        out = augment(image, partner, generator=generator)
        pasted = (out == 200).all(0)
        assert ((out == 0) | (out == 200)).all()
        rows = pasted.any(1).nonzero().flatten()
        cols = pasted.any(0).nonzero().flatten()
        height = int(rows[-1] - rows[0] + 1)
        width = int(cols[-1] - cols[0] + 1)
        assert pasted.sum() == height * width  # one rectangle
        assert 16 // 4 <= height <= 16 // 2 and 20 // 4 <= width <= 20 // 2
    assert torch.equal(augment(image, None, generator), image)
    never = SyntheticAugment(flip=False, cutmix_prob=0.0)
    assert torch.equal(never(image, partner, generator), image)


def test_augmented_items_vary_and_leave_the_stored_images(task):
    dataset = SyntheticInversionDataset(
        task['target'], num_images=4, image_size=(12, 20), seed=2,
        augment=dict(flip=True, max_shift=3, cutmix_prob=0.5))
    plain = SyntheticInversionDataset(task['target'], num_images=4,
                                      image_size=(12, 20), seed=2)
    torch.manual_seed(0)
    draws = [dataset[1]['inputs'] for _ in range(8)]
    assert all(d.dtype == torch.uint8 and d.shape == (3, 12, 20)
               for d in draws)
    assert len({tuple(d.flatten().tolist()) for d in draws}) > 4
    assert torch.equal(dataset.image(1), plain[1]['inputs'])
    assert dataset.metainfo['augment'] == dict(flip=True, max_shift=3,
                                               cutmix_prob=0.5)
    torch.manual_seed(0)
    again = [dataset[1]['inputs'] for _ in range(8)]
    assert all(torch.equal(a, b) for a, b in zip(draws, again))


# --------------------------------------------------------------- noise
def test_noise_items_are_deterministic_uint8_and_vary(task):
    dataset = DATASETS.build(
        dict(type='mmext.SyntheticInversionDataset', target=task['target'],
             num_images=7, image_size=(12, 20), seed=2))
    assert len(dataset) == 7
    assert dataset.metainfo['source'] == 'noise'
    item = dataset[3]['inputs']
    assert item.dtype == torch.uint8 and item.shape == (3, 12, 20)
    again = SyntheticInversionDataset(task['target'], num_images=7,
                                      image_size=(12, 20), seed=2)
    assert torch.equal(again[3]['inputs'], item)
    assert torch.equal(dataset[3]['inputs'], item)  # nothing consumed
    assert not torch.equal(dataset[4]['inputs'], item)
    other_seed = SyntheticInversionDataset(task['target'], num_images=7,
                                           image_size=(12, 20), seed=3)
    assert not torch.equal(other_seed[3]['inputs'], item)
    for index in range(len(dataset)):  # a real range of values
        values = dataset[index]['inputs'].float()
        assert values.max() - values.min() > 60
    with pytest.raises(IndexError):
        dataset[7]


def _radial_power(images: torch.Tensor, low: float, high: float) -> float:
    """Mean power of frequencies with ``low <= |f| < high`` (cycles/px)."""
    centred = images - images.mean(dim=(-2, -1), keepdim=True)
    power = torch.fft.fft2(centred).abs().pow(2).mean(dim=(0, 1))
    fy = torch.fft.fftfreq(images.shape[-2]).view(-1, 1)
    fx = torch.fft.fftfreq(images.shape[-1]).view(1, -1)
    radius = (fy**2 + fx**2).sqrt()
    return power[(radius >= low) & (radius < high)].mean().item()


def test_noise_spectrum_falls_with_frequency_and_channels_correlate():
    images = natural_noise_images(12, (64, 64),
                                  torch.Generator().manual_seed(0))
    assert images.shape == (12, 3, 64, 64) and images.dtype == torch.float32
    assert images.min() >= 0 and images.max() <= 1
    ratio = _radial_power(images, 0.02, 0.1) / _radial_power(
        images, 0.3, 0.5)
    assert ratio > 20, ratio
    white = torch.rand(12, 3, 64, 64, generator=torch.Generator().manual_seed(
        0))
    assert _radial_power(white, 0.02, 0.1) / _radial_power(
        white, 0.3, 0.5) < 2  # the measure itself is not biased
    flat = images.flatten(2)
    flat = flat - flat.mean(dim=2, keepdim=True)
    flat = flat / flat.norm(dim=2, keepdim=True)
    correlation = (flat[:, 0] * flat[:, 1]).sum(dim=1).mean()
    assert 0.5 < correlation < 0.99, correlation  # colour, not grey
    same = natural_noise_images(12, (64, 64),
                                torch.Generator().manual_seed(0))
    assert torch.equal(images, same)


def test_noise_round_trip_through_the_preprocessor(task):
    dataset = SyntheticInversionDataset(task['target'], 'noise',
                                        num_images=3, image_size=SIZE,
                                        seed=4)
    model = build_target(task['target'])
    mean, std, swap = pixel_normalisation(model)
    assert swap
    expected = torch.cat([
        normalise_images(
            natural_noise_images(
                1, SIZE, torch.Generator().manual_seed(noise_item_seed(4, i))),
            mean, std) for i in range(3)
    ])
    items = [dataset[i] for i in range(3)]
    _assert_within_rounding(_preprocessed(model, items), expected)
    # Without the channel reversal the classifier would see other images.
    flipped = [dict(inputs=item['inputs'].flip(0)) for item in items]
    error = (_preprocessed(model, flipped) - expected).abs().amax()
    assert error > 10 / min(STD)


# ------------------------------------------------------------------ bn
def test_bn_round_trip_through_the_preprocessor(task):
    dataset = _bn_dataset(task)
    model = build_target(task['target'])
    expected = bn_synthesized_images(model, 5, SIZE, seed=3, **QUICK)
    assert len(dataset) == 5
    assert dataset[0]['inputs'].dtype == torch.uint8
    items = [dataset[i] for i in range(5)]
    _assert_within_rounding(_preprocessed(model, items), expected)
    flipped = [dict(inputs=item['inputs'].flip(0)) for item in items]
    error = (_preprocessed(model, flipped) - expected).abs().amax()
    assert error > 10 / min(STD)


def _bn_loss(model: torch.nn.Module, images: torch.Tensor) -> float:
    prior = BNStatisticsPrior(model, first_bn_multiplier=10.0)
    with prior, torch.no_grad():
        model(images, mode='tensor')
    return prior.loss.item()


def test_bn_synthesis_lowers_the_bn_loss_and_keeps_the_model(task):
    model = build_target(task['target'])
    for param in model.parameters():  # a caller's trainable model
        param.requires_grad_(True)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    mean, std, _ = pixel_normalisation(model)
    start = normalise_images(
        natural_noise_images(8, SIZE, torch.Generator().manual_seed(0)),
        mean, std)
    # Default weights and flips; no jitter: a 1 px roll moves the sampling
    # grid of this random-weight 16 px ResNet (total stride 32), whose
    # statistics, unlike a trained classifier's, are not shift-invariant.
    images = bn_synthesized_images(model, 8, SIZE, steps=40, batch_size=8,
                                   lr=0.05, jitter=0, seed=0)
    assert images.shape == (8, 3) + SIZE
    before, after = _bn_loss(model, start), _bn_loss(model, images)
    assert after < 0.75 * before, (before, after)
    # Within the normalised range of 0-255 pixels.
    pixels = images * std.view(-1, 1, 1) + mean.view(-1, 1, 1)
    assert pixels.min() >= -1e-3 and pixels.max() <= 255 + 1e-3
    assert not model.training
    assert all(p.grad is None for p in model.parameters())
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


# --------------------------------------------------------------- cache
def test_bn_cache_is_loaded_checked_and_written_atomically(
        task, tmp_path, monkeypatch):
    cache = str(tmp_path / 'cache' / 'bn.pth')
    first = _bn_dataset(task, cache_file=cache)
    assert osp.isfile(cache)

    def no_synthesis(*args, **kwargs):
        raise AssertionError('synthesised although the cache exists')

    monkeypatch.setattr(synthetic_inversion, 'bn_synthesized_images',
                        no_synthesis)
    second = _bn_dataset(task, cache_file=cache,
                         synthesis=dict(QUICK, progress=False))
    assert torch.equal(second.images, first.images)
    with pytest.raises(ValueError, match=r'cache_file.*seed.*delete'):
        _bn_dataset(task, cache_file=cache, seed=4)
    with pytest.raises(ValueError, match=r'cache_file.*synthesis'):
        _bn_dataset(task, cache_file=cache, synthesis=dict(QUICK, steps=4))
    garbage = tmp_path / 'garbage.pth'
    garbage.write_bytes(b'not a checkpoint')
    with pytest.raises(ValueError, match=r'cache_file.*delete'):
        _bn_dataset(task, cache_file=str(garbage))
    monkeypatch.undo()

    def crashing_save(obj, path, *args, **kwargs):
        with open(path, 'wb') as f:
            f.write(b'half a file')
        raise OSError('disk full')

    monkeypatch.setattr(torch, 'save', crashing_save)
    crashed = str(tmp_path / 'crash' / 'bn.pth')
    with pytest.raises(OSError, match='disk full'):
        _bn_dataset(task, cache_file=crashed, num_images=2)
    assert not osp.exists(crashed)
    assert os.listdir(osp.dirname(crashed)) == []  # no temporary file


def _bn_cache_rank(rank, world_size, target, cache_file):
    """Build the 'bn' dataset with a cache; count this rank's syntheses."""
    calls = []
    original = synthetic_inversion.bn_synthesized_images

    def counted(*args, **kwargs):
        calls.append(rank)
        return original(*args, **kwargs)

    synthetic_inversion.bn_synthesized_images = counted
    dataset = SyntheticInversionDataset(
        target, 'bn', num_images=3, image_size=SIZE, seed=5,
        cache_file=cache_file, synthesis=dict(steps=2, batch_size=3))
    return dict(images=dataset.images, calls=len(calls))


def test_bn_cache_two_processes(task, tmp_path):
    cache = str(tmp_path / 'bn.pth')
    results = run_distributed(_bn_cache_rank, world_size=2,
                              args=(task['target'], cache), timeout=90)
    assert [r['calls'] for r in results] == [1, 0]
    assert torch.equal(results[0]['images'], results[1]['images'])
    saved = torch.load(cache, weights_only=True)
    assert torch.equal(saved['images'], results[0]['images'])


# ------------------------------------------- the task's data stays unread
_AUDITED = ('open', 'os.listdir', 'os.scandir')
_AUDIT = dict(active=False, paths=[])
_HOOK_INSTALLED = False


def _audit(event: str, args: tuple) -> None:
    if not _AUDIT['active'] or event not in _AUDITED or not args:
        return
    try:
        path = args[0]
        if isinstance(path, (str, bytes, os.PathLike)):
            _AUDIT['paths'].append(osp.abspath(os.fsdecode(path)))
    except Exception:  # noqa: BLE001  (never break the audited call)
        pass


def _install_audit_hook() -> None:
    """``sys.addaudithook`` once per process (hooks cannot be removed)."""
    global _HOOK_INSTALLED
    if not _HOOK_INSTALLED:
        sys.addaudithook(_audit)
        _HOOK_INSTALLED = True


def _accessed_under(root: str, action) -> list:
    """Paths under ``root`` that ``action()`` opened or listed."""
    _install_audit_hook()
    roots = {osp.abspath(root), osp.realpath(root)}
    _AUDIT['paths'] = []
    _AUDIT['active'] = True
    try:
        action()
    finally:
        _AUDIT['active'] = False
    return [p for p in _AUDIT['paths']
            if any(p == r or p.startswith(r + os.sep) for r in roots)]


def test_never_opens_the_task_data(task):

    def build_and_iterate():
        for source in ('noise', 'bn'):
            dataset = SyntheticInversionDataset(
                task['target'], source, num_images=2, image_size=SIZE,
                synthesis=dict(steps=1, batch_size=2) if source == 'bn'
                else None)
            for batch in torch.utils.data.DataLoader(
                    dataset, batch_size=2, collate_fn=pseudo_collate):
                assert len(batch['inputs']) == 2

    assert _accessed_under(task['data_root'], build_and_iterate) == []

    def read_the_data():
        os.listdir(task['data_root'])
        with open(task['image'], 'rb') as f:
            f.read()

    seen = _accessed_under(task['data_root'], read_the_data)
    assert osp.abspath(task['image']) in seen  # the check can fail
    assert osp.abspath(task['data_root']) in seen


# -------------------------------------------------------------- errors
@pytest.mark.parametrize('kwargs, field', [
    (dict(source='gan'), 'source'),
    (dict(num_images=0), 'num_images'),
    (dict(num_images=2.5), 'num_images'),
    (dict(image_size=(16, )), 'image_size'),
    (dict(image_size=(0, 16)), 'image_size'),
    (dict(image_size=(16.0, 16)), 'image_size'),
    (dict(synthesis=dict(stepz=3)), 'synthesis'),
    (dict(source='noise', synthesis=dict(steps=3)), 'synthesis'),
    (dict(synthesis=dict(seed=1)), 'synthesis'),
    (dict(source='noise', cache_file='images.pth'), 'cache_file'),
    (dict(augment=dict(rotate=True)), 'augment'),
    (dict(augment=dict(max_shift=-1)), r'augment\.max_shift'),
    (dict(augment=dict(cutmix_prob=1.5)), r'augment\.cutmix_prob'),
    (dict(augment=dict(flip='yes')), r'augment\.flip'),
])
def test_invalid_arguments_name_the_field(task, kwargs, field):
    args = dict(target=task['target'], source='bn', num_images=2,
                image_size=SIZE)
    args.update(kwargs)
    with pytest.raises(ValueError, match=field):
        SyntheticInversionDataset(**args)


def test_bn_needs_batchnorm(task):
    with pytest.raises(ValueError, match=r"source='bn'.*'noise'"):
        SyntheticInversionDataset(task['no_bn'], 'bn', num_images=2,
                                  image_size=SIZE)
    model = build_target(task['no_bn'])
    with pytest.raises(ValueError, match=r"source='bn'.*'noise'"):
        bn_synthesized_images(model, 2, SIZE, steps=1)
    noise = SyntheticInversionDataset(task['no_bn'], 'noise', num_images=2,
                                      image_size=SIZE)
    assert noise[1]['inputs'].shape == (3, ) + SIZE
