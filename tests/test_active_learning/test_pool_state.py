"""The pool state file: round trip, atomic replacement, refusal of a state
written for another data set, and the labelling bookkeeping."""
import json
import os

import pytest

from mmext.engine.runner.active_learning.pool_state import (PoolState,
                                                            PseudoLabels)


def make_state() -> PoolState:
    return PoolState(
        seed=3, cycle=1, pool_ids=[10, 11, 12, 13, 14], labelled=[12, 10],
        pseudo={'13': PseudoLabels([[1.0, 2.0, 5.0, 6.0]], [4], [0.995])},
        scores={'11': dict(entropy=0.5, inconsistency=0.1)},
        history=[dict(cycle=0, num_labelled=1, metrics={'mAP': 0.25})])


def test_round_trip_through_json(tmp_path):
    path = str(tmp_path / 'state' / 'cycle_1.json')
    state = make_state()
    state.write(path)
    with open(path) as f:
        assert json.load(f)['labelled'] == [12, 10]
    again = PoolState.read(path)
    assert again == state
    assert again.unlabelled == [11, 13, 14]


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = str(tmp_path / 'cycle_1.json')
    make_state().write(path)
    before = open(path).read()
    broken = make_state()
    broken.history.append(dict(metrics={'bad': object()}))  # not JSON
    with pytest.raises(TypeError):
        broken.write(path)
    assert open(path).read() == before
    assert os.listdir(tmp_path) == ['cycle_1.json']


def test_label_moves_ids_and_drops_their_pseudo_labels():
    state = make_state()
    state.label([13, 14])
    assert state.labelled == [12, 10, 13, 14]
    assert '13' not in state.pseudo
    assert state.unlabelled == [11]
    for bad in ([12], [99], [11, 11]):
        with pytest.raises(ValueError, match='cannot label'):
            state.label(bad)


def test_state_of_another_data_set_is_refused():
    state = make_state()
    state.check_pool([10, 11, 12, 13, 14], 'train_cfg.init_pool_state')
    with pytest.raises(ValueError, match=r'train_cfg.init_pool_state.*'
                       r"\['10', '12'\]"):
        state.check_pool([11, 13, 14, 15, 16], 'train_cfg.init_pool_state')
    with pytest.raises(ValueError, match='covers 5 images.*has 6'):
        state.check_pool([10, 11, 12, 13, 14, 15], 'x')


def test_foreign_json_is_refused(tmp_path):
    path = tmp_path / 'other.json'
    path.write_text(json.dumps(dict(format_version=1, colour='red')))
    with pytest.raises(ValueError, match='not a pool state'):
        PoolState.read(str(path), 'train_cfg.init_pool_state')
    path.write_text(json.dumps(dict(labelled=[1])))
    with pytest.raises(ValueError, match='format None'):
        PoolState.read(str(path))
