"""The direct-inversion analysis tools on tiny trained inverters (CPU):
tools/analysis_tools/compare_direct_inversion.py (zero-shot, a real-data
upper bound and the optimisation baseline on the same drawn images) and
tools/analysis_tools/direct_inversion_depths.py (one row per split), and
:func:`mmext.apis.sample_test_batch`, which draws their images.

Each inverter is trained for 3 iterations by MMEngine's Runner and its
runner config dumped to a file, as tools/train.py leaves one in the work
directory."""
import json
import os.path as osp
import re

import mmcv
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmext.apis import init_model, sample_test_batch
from mmext.inversion import psnr, ssim
from mmext.testing.tools import load_tool

SIZE = 32
NUM_TEST = 4  # the dci_cfg test set: the folder's first 4 images
ITERS = 3
METHODS = ('zero-shot', 'real-data upper bound', 'optimisation baseline')


def grid_shape(rows: int, columns: int) -> tuple:
    """A rows_grid picture of 32-px images with 2-px gaps."""
    return rows * (SIZE + 2) - 2, columns * (SIZE + 2) - 2, 3


def table_rows(text: str) -> dict:
    """``{first cell: [other cells]}`` of the Markdown rows in ``text``
    (separator and header rows left out)."""
    rows = {}
    for line in text.splitlines():
        if not line.startswith('|') or line.startswith('|---'):
            continue
        cells = [c.strip() for c in line.strip('|').split('|')]
        if cells[0] in ('method', 'split'):
            continue
        rows[cells[0]] = cells[1:]
    return rows


@pytest.fixture(scope='module')
def runs(dci_folder, dci_cfg, target_ckpt, tmp_path_factory):
    """Three 3-iteration inverters of the tiny target: ``stem`` and
    ``layer1`` (seed 0), and ``layer1`` of seed 1 (the 'upper bound').
    ``{name: (config file, checkpoint, trained inverse state)}``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = {}
        for name, split, seed in (('stem', 'stem', 0),
                                  ('layer1', 'layer1', 0),
                                  ('layer1-seed1', 'layer1', 1)):
            work_dir = str(tmp_path_factory.mktemp(f'dci_{name}'))
            cfg = dci_cfg(dci_folder, work_dir, target_ckpt,
                          max_iters=ITERS, stage1_iters=2, split=split)
            cfg['randomness'] = dict(seed=seed)
            config = osp.join(work_dir, f'dci_{name}.py')
            Config(cfg).dump(config)
            runner = Runner(**cfg)
            runner.train()
            state = {k: v.detach().clone()
                     for k, v in runner.model.state_dict().items()}
            result[name] = (config, osp.join(work_dir, f'iter_{ITERS}.pth'),
                            state)
        return result
    finally:
        torch.set_num_threads(threads)


def test_dumped_configs_build_the_trained_inverters(runs, target_ckpt):
    target_state = torch.load(target_ckpt, map_location='cpu',
                              weights_only=False)['state_dict']
    for name, (config, checkpoint, state) in runs.items():
        # the target dict keeps its checkpoint path through the dump
        assert Config.fromfile(config).model.target.checkpoint == \
            target_ckpt, name
        model = init_model(config, checkpoint, strict=True)
        assert model.split == name.split('-')[0]
        loaded = model.state_dict()
        assert set(loaded) == set(state) and state, name
        for key, value in state.items():
            assert torch.equal(loaded[key], value), (name, key)
        # the frozen target is the checkpointed one, not a random init
        for key, value in model.target.state_dict().items():
            assert torch.equal(value, target_state[key]), (name, key)
    # the two layer1 runs (seeds 0 and 1) are different inverters
    a, b = runs['layer1'][2], runs['layer1-seed1'][2]
    assert any(not torch.equal(a[k], b[k]) for k in a)


def _independent_scores(config, checkpoint, zero_shot_config, seed):
    """PSNR and SSIM of ``model.invert`` on the batch that
    ``sample_test_batch(zero_shot_config, 4, seed)`` draws, computed
    here without the tool."""
    model = init_model(config, checkpoint, strict=True)
    data = model.data_preprocessor(
        sample_test_batch(zero_shot_config, NUM_TEST, seed), False)
    x = data['inputs']
    with torch.no_grad():
        recovered = model.to_pixels(model.invert(model.features(x)))
    original = model.to_pixels(x)
    return (float(psnr(recovered, original).mean()),
            float(ssim(recovered, original).mean()), original, recovered)


def test_compare_tool_scores_three_methods_and_writes_the_grid(
        runs, tmp_path, capsys):
    config, checkpoint, _ = runs['layer1']
    upper_config, upper_checkpoint, _ = runs['layer1-seed1']
    out_dir = str(tmp_path / 'compare')
    tool = load_tool('analysis_tools/compare_direct_inversion.py')
    tool.main([
        config, checkpoint, '--upper-bound', upper_config, upper_checkpoint,
        '--num-images', str(NUM_TEST), '--seed', '3',
        '--baseline-iterations', '3', '--grid-images', str(NUM_TEST),
        '--repeats', '1', '--threads', '1', '--out-dir', out_dir
    ])
    text = capsys.readouterr().out

    with open(osp.join(out_dir, 'compare.json')) as f:
        summary = json.load(f)
    assert summary['split'] == 'layer1'
    assert summary['num_images'] == NUM_TEST
    assert summary['seed'] == 3
    assert summary['baseline_iterations'] == 3
    assert list(summary['methods']) == list(METHODS)
    for name, scores in summary['methods'].items():
        assert set(scores) == {'psnr', 'ssim', 'seconds_per_image'}, name
        assert scores['seconds_per_image'] > 0, name
        assert 0 < scores['psnr'] < 100, name
        assert -1 <= scores['ssim'] <= 1, name

    # the zero-shot and upper-bound rows score the right models on the
    # batch that sample_test_batch draws with the same seed
    zs_psnr, zs_ssim, original, zs_pixels = _independent_scores(
        config, checkpoint, config, 3)
    ub_psnr, ub_ssim, _, _ = _independent_scores(upper_config,
                                                 upper_checkpoint, config, 3)
    methods = summary['methods']
    assert methods['zero-shot']['psnr'] == pytest.approx(zs_psnr, abs=1e-4)
    assert methods['zero-shot']['ssim'] == pytest.approx(zs_ssim, abs=1e-5)
    assert methods['real-data upper bound']['psnr'] == pytest.approx(
        ub_psnr, abs=1e-4)
    assert methods['real-data upper bound']['ssim'] == pytest.approx(
        ub_ssim, abs=1e-5)
    assert abs(zs_psnr - ub_psnr) > 1e-3  # not the same inverter twice

    # rows: originals, zero-shot, upper bound, baseline; 4 columns
    grid = mmcv.imread(osp.join(out_dir, 'compare_grid.png'))  # BGR
    assert grid.shape == grid_shape(1 + len(METHODS), NUM_TEST)
    rgb = torch.from_numpy(grid[..., ::-1].copy()).permute(2, 0, 1).float()
    for r, row in enumerate((original, zs_pixels)):
        for i in range(NUM_TEST):
            top, left = r * (SIZE + 2), i * (SIZE + 2)
            cell = rgb[:, top:top + SIZE, left:left + SIZE]
            assert (cell - row[i] * 255).abs().max() <= 1, (r, i)
    assert (grid[SIZE:SIZE + 2] == 255).all()  # the gap between rows

    rows = table_rows(text)
    assert list(rows) == list(METHODS)
    assert float(rows['zero-shot'][0]) == pytest.approx(zs_psnr, abs=0.006)
    assert rows['zero-shot'][3] == '1x'
    assert "split 'layer1'" in text and '3 iterations' in text


def test_compare_tool_refuses_an_upper_bound_of_another_split(
        runs, tmp_path):
    config, checkpoint, _ = runs['layer1']
    stem_config, stem_checkpoint, _ = runs['stem']
    out_dir = str(tmp_path / 'compare')
    tool = load_tool('analysis_tools/compare_direct_inversion.py')
    with pytest.raises(ValueError, match='split') as error:
        tool.main([
            config, checkpoint, '--upper-bound', stem_config,
            stem_checkpoint, '--num-images', str(NUM_TEST),
            '--baseline-iterations', '1', '--threads', '1', '--out-dir',
            out_dir
        ])
    assert 'stem' in str(error.value) and 'layer1' in str(error.value)
    assert not osp.exists(osp.join(out_dir, 'compare.json'))


def test_depths_tool_one_row_per_split(runs, tmp_path, capsys):
    stem_config, stem_checkpoint, _ = runs['stem']
    config, checkpoint, _ = runs['layer1']
    out = str(tmp_path / 'depths.png')
    tool = load_tool('analysis_tools/direct_inversion_depths.py')
    tool.main([
        '--run', stem_config, stem_checkpoint, '--run', config, checkpoint,
        '--num-images', str(NUM_TEST), '--seed', '3', '--threads', '1',
        '--out', out
    ])
    text = capsys.readouterr().out
    grid = mmcv.imread(out)
    assert grid.shape == grid_shape(3, NUM_TEST)

    rows = table_rows(text)
    assert list(rows) == ['stem', 'layer1']
    # each split's row scores its own inverter on the drawn batch
    for split, (cfg, ckpt) in (('stem', (stem_config, stem_checkpoint)),
                               ('layer1', (config, checkpoint))):
        expected, expected_ssim, _, _ = _independent_scores(
            cfg, ckpt, stem_config, 3)
        assert float(rows[split][0]) == pytest.approx(expected, abs=0.006)
        assert float(rows[split][1]) == pytest.approx(expected_ssim,
                                                      abs=6e-4)
    assert re.search(r'rows: originals, stem, layer1\): .*depths\.png', text)


def _inputs(batch: dict) -> list:
    return [x.clone() for x in batch['inputs']]


def test_sample_test_batch_is_seeded(runs, dci_folder):
    config = runs['layer1'][0]
    a = _inputs(sample_test_batch(config, NUM_TEST, seed=0))
    again = _inputs(sample_test_batch(config, NUM_TEST, seed=0))
    other = _inputs(sample_test_batch(config, NUM_TEST, seed=1))
    assert len(a) == len(again) == len(other) == NUM_TEST
    assert all(torch.equal(x, y) for x, y in zip(a, again))
    # all 4 test images, each once: the same set in another order
    key = [float(x.float().sum()) for x in a]
    key_other = [float(x.float().sum()) for x in other]
    assert len(set(key)) == NUM_TEST
    assert sorted(key) == sorted(key_other)
    assert key != key_other
    # the items are the config's test set: the folder's first 4 images
    # (class 'a'), as loaded (BGR, CHW)
    files = [mmcv.imread(osp.join(dci_folder, 'train', 'a', f'{i:03d}.png'))
             for i in range(NUM_TEST)]
    test_set = [torch.from_numpy(image).permute(2, 0, 1) for image in files]
    for x in a:
        assert sum(torch.equal(x, y) for y in test_set) == 1
    batch = sample_test_batch(config, 2, seed=0)
    assert len(batch['inputs']) == len(batch['data_samples']) == 2


def test_sample_test_batch_refuses_more_images_than_the_set(runs):
    with pytest.raises(ValueError, match='num_images=5'):
        sample_test_batch(runs['layer1'][0], NUM_TEST + 1)
