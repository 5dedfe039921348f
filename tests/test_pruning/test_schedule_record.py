"""HALP's schedule (with the reference's start-iteration bug avoided) and
the pruning record kept in checkpoints."""
import math

import pytest
import torch

from mmext.pruning.record import PruningRecord, PruningStep
from mmext.pruning.schedule import PruningSchedule, \
    geometric_latency_targets


def test_geometric_targets():
    targets = geometric_latency_targets(200.0, 0.55, 30)
    assert len(targets) == 30
    assert targets[-1] == pytest.approx(110.0)
    ratios = [b / a for a, b in zip([200.0] + targets[:-1], targets)]
    assert all(r == pytest.approx(0.55**(1 / 30)) for r in ratios)
    # the paper's form: exp((t/T) ln Lf + (1 - t/T) ln L0)
    t, n = 7, 30
    assert targets[t - 1] == pytest.approx(
        math.exp(t / n * math.log(110.0) + (1 - t / n) * math.log(200.0)))
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match='target_ratio'):
            geometric_latency_targets(1.0, bad, 3)


@pytest.mark.parametrize('start', [0, 5, 100])
def test_schedule_runs_every_step_whatever_the_start(start):
    schedule = PruningSchedule(start=start, interval=3, num_steps=4)
    steps = {
        i: schedule.step_after(i)
        for i in range(start + 40) if schedule.step_after(i)
    }
    assert steps == {start + 2: 1, start + 5: 2, start + 8: 3, start + 11: 4}
    window = [i for i in range(start + 40) if schedule.accumulates(i)]
    assert window == list(range(start, start + 12))


def test_schedule_rejects_bad_values():
    with pytest.raises(ValueError, match='interval'):
        PruningSchedule(start=0, interval=0, num_steps=3)
    with pytest.raises(ValueError, match='start'):
        PruningSchedule(start=-1, interval=1, num_steps=3)


def test_record_round_trip_and_group_check():
    record = PruningRecord(group_sizes={'a': 4, 'b': 2}, dense_latency=3.0)
    assert torch.equal(record.current_keep()['a'], torch.ones(4).bool())
    keep = {'a': torch.tensor([1, 0, 1, 0]).bool(), 'b': torch.ones(2).bool()}
    record.steps.append(PruningStep(1, 9, 2.5, 2.4, keep))
    again = PruningRecord.from_dict(record.to_dict())
    assert again.dense_latency == 3.0
    assert torch.equal(again.current_keep()['a'], keep['a'])
    again.check_groups({'a': 4, 'b': 2})
    with pytest.raises(ValueError, match=r"only in the model \['c'\]"):
        again.check_groups({'a': 4, 'b': 2, 'c': 8})
    with pytest.raises(ValueError, match='format'):
        PruningRecord.from_dict({'format': 'other'})
