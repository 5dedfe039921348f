"""tools/invert.py and the GradInversion analysis tools
(``analysis_tools/gradinversion_labels.py``, ``gradinversion_baselines.py``)
on the tiny image folder of conftest.py."""
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmext.apis import init_model
from mmext.testing.tools import load_tool


def test_invert_tool(gi_folder, gi_cfg, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('LOCAL_RANK', '0')
    invert = load_tool('invert.py')
    cfg = gi_cfg(gi_folder, str(tmp_path / 'work'))
    model = Runner(**cfg).model
    checkpoint = str(tmp_path / 'victim.pth')
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    path = str(tmp_path / 'gi.py')
    Config(cfg).dump(path)
    assert invert.main([path, '--checkpoint', checkpoint]) == 0
    assert osp.isfile(
        osp.join(str(tmp_path / 'work'), 'gradinversion', 'batch_001.png'))
    assert invert.main([path]) == 1
    assert 'no weights for the attacked model' in capsys.readouterr().err
    plain = str(tmp_path / 'plain.py')
    Config(dict(cfg, test_cfg=dict())).dump(plain)
    assert invert.main([plain, '--checkpoint', checkpoint]) == 1
    assert 'GradInversionLoop' in capsys.readouterr().err

    labels_tool = load_tool('analysis_tools/gradinversion_labels.py')
    out = str(tmp_path / 'labels.json')
    assert labels_tool.main([
        path, checkpoint, '--batch-size', '4', '--trials', '4', '--out', out
    ]) == 0
    with open(out) as handle:
        rows = {r['sampling']: r for r in json.load(handle)}
    assert rows['distinct_labels']['label_accuracy'] == 100.0
    assert rows['distinct_labels']['exact_batches'] == 100.0
    assert 0 < rows['random']['label_accuracy'] <= 100.0
    # A missing checkpoint is named, and nothing runs.
    missing = str(tmp_path / 'none.pth')
    assert labels_tool.main([path, missing]) == 1
    assert f'checkpoint: no file {missing!r}' in capsys.readouterr().err


def test_baselines_tool(gi_folder, gi_cfg, tmp_path, capsys):
    tool = load_tool('analysis_tools/gradinversion_baselines.py')
    black = torch.zeros(2, 3, 16, 16)
    scores = tool.baseline_scores(black)
    # MSE 0.25 against grey: 10 log10(1 / 0.25) dB.
    assert scores['uniform grey 0.5'][0] == pytest.approx(6.0206, abs=1e-3)
    path = str(tmp_path / 'gi.py')
    Config(gi_cfg(gi_folder, str(tmp_path / 'work'))).dump(path)
    assert tool.main([path]) == 0
    out = capsys.readouterr().out
    assert '| uniform grey 0.5 |' in out and '| mean image |' in out


def test_baselines_tool_gradient_distances(gi_folder, gi_cfg, tmp_path,
                                           capsys):
    tool = load_tool('analysis_tools/gradinversion_baselines.py')
    cfg = gi_cfg(gi_folder, str(tmp_path / 'work'))
    torch.manual_seed(0)
    checkpoint = str(tmp_path / 'model.pth')
    torch.save({'state_dict': init_model(Config(cfg)).state_dict()},
               checkpoint)
    path = str(tmp_path / 'gi.py')
    Config(cfg).dump(path)
    assert tool.main([path, '--checkpoint', checkpoint]) == 0
    table = capsys.readouterr().out.split('gradient distance |')[1]
    rows = {}
    for line in table.strip().splitlines()[1:]:
        name, value, dist = [c.strip() for c in line.strip('|').split('|')]
        rows[name] = (float(value), float(dist))
    assert set(rows) >= {'true batch', 'mirrored', 'box blur 3x3',
                         'shifted 2 px (circular)',
                         'own mean colour (oracle)'}
    assert rows['true batch'] == (float('inf'), pytest.approx(0, abs=1e-4))
    # cosine distance (the config's): every other guess is measurably off
    assert all(0.0 < dist <= 2.0 for name, (_, dist) in rows.items()
               if name != 'true batch')
    assert rows['box blur 3x3'][0] > rows['own mean colour (oracle)'][0]
