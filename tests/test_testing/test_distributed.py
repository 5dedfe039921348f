"""Tests for mmext.testing.run_distributed (2 CPU processes on gloo).

The functions run in the children are module-level, so spawn can pickle them.
"""
import os
import time

import pytest
import torch
import torch.distributed as dist

from mmext.testing import DistributedChildError, run_distributed


def _all_reduce_sum(rank, world_size, offset):
    value = torch.tensor([float(rank + offset)])
    dist.all_reduce(value)
    return dict(
        rank=rank,
        sum=value.item(),
        env=(os.environ['RANK'], os.environ['LOCAL_RANK'],
             os.environ['WORLD_SIZE']),
        dist_rank=dist.get_rank(),
        backend=dist.get_backend())


def _fail_on_rank_one(rank, world_size):
    if rank == 1:
        raise ValueError(f'boom from rank {rank}')
    return rank


class _Unpicklable(Exception):

    def __init__(self, a, b):
        super().__init__(a)  # unpickling calls __init__(a): TypeError
        self.b = b


def _raise_unpicklable(rank, world_size):
    raise _Unpicklable('custom failure', 2)


def _wait_in_a_named_function(rank, world_size):
    time.sleep(60)


def _ddp_steps(rank, world_size, steps):
    """Train a tiny model under MMDistributedDataParallel, return params."""
    from mmengine.model import BaseModel, MMDistributedDataParallel
    from mmengine.optim import OptimWrapper

    class Tiny(BaseModel):

        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(4, 2)

        def forward(self, inputs, data_samples=None, mode='tensor'):
            out = self.linear(inputs)
            if mode == 'loss':
                return dict(loss=((out - data_samples)**2).mean())
            return out

    torch.manual_seed(rank)  # different init per rank: DDP must sync it
    model = Tiny()
    init = [p.detach().clone() for p in model.parameters()]
    ddp = MMDistributedDataParallel(module=model)
    optim_wrapper = OptimWrapper(
        torch.optim.SGD(ddp.parameters(), lr=0.1))
    generator = torch.Generator().manual_seed(100 + rank)  # per-rank data
    for _ in range(steps):
        data = dict(
            inputs=torch.randn(3, 4, generator=generator),
            data_samples=torch.randn(3, 2, generator=generator))
        ddp.train_step(data, optim_wrapper=optim_wrapper)
    params = torch.cat([p.detach().flatten() for p in model.parameters()])
    return dict(
        params=params,
        init=torch.cat([p.flatten() for p in init]))


def _runner_ddp(rank, world_size, work_dir):
    """Build a Runner with launcher='pytorch' and train the toy model."""
    from mmengine.config import Config
    from mmengine.model import MMDistributedDataParallel
    from mmengine.runner import Runner

    from mmext.testing.toy import get_toy_cfg
    cfg = Config(get_toy_cfg(work_dir, max_epochs=1))
    cfg.launcher = 'pytorch'
    cfg.log_level = 'WARNING'
    runner = Runner.from_cfg(cfg)
    runner.train()
    model = runner.model
    params = torch.cat([p.detach().flatten() for p in model.parameters()])
    return dict(
        world_size=runner.world_size,
        rank=runner.rank,
        wrapped=isinstance(model, MMDistributedDataParallel),
        params=params)


def test_all_reduce_and_results_per_rank():
    results = run_distributed(_all_reduce_sum, world_size=2, args=(1, ))
    assert [r['rank'] for r in results] == [0, 1]
    assert [r['sum'] for r in results] == [3.0, 3.0]  # (0+1) + (1+1)
    assert results[1]['env'] == ('1', '1', '2')
    assert [r['dist_rank'] for r in results] == [0, 1]
    assert results[0]['backend'] == 'gloo'


def test_child_exception_is_raised_in_parent():
    with pytest.raises(ValueError, match='boom from rank 1') as err:
        run_distributed(_fail_on_rank_one, world_size=2)
    cause = err.value.__cause__
    assert isinstance(cause, DistributedChildError)
    assert cause.rank == 1
    assert '_fail_on_rank_one' in cause.traceback_text
    assert 'ValueError: boom from rank 1' in cause.traceback_text


def test_unpicklable_child_exception():
    with pytest.raises(DistributedChildError, match='custom failure'):
        run_distributed(_raise_unpicklable, world_size=2, patch_mmengine=False)


def test_mmengine_ddp_keeps_ranks_in_sync():
    results = run_distributed(_ddp_steps, world_size=2, args=(3, ))
    params0, params1 = results[0]['params'], results[1]['params']
    torch.testing.assert_close(params0, params1)
    # The ranks started from different weights (DDP broadcasts rank 0's)
    # and training moved them.
    assert not torch.allclose(results[0]['init'], results[1]['init'])
    assert not torch.allclose(params0, results[0]['init'])


def test_runner_with_pytorch_launcher_on_cpu(tmp_path):
    results = run_distributed(
        _runner_ddp, world_size=2, args=(str(tmp_path), ), timeout=180)
    assert [r['rank'] for r in results] == [0, 1]
    assert all(r['world_size'] == 2 and r['wrapped'] for r in results)
    torch.testing.assert_close(results[0]['params'], results[1]['params'])
    assert (tmp_path / 'epoch_1.pth').exists()


def test_a_hanging_rank_times_out_and_prints_where_it_waits(capfd):
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r'ranks \[0, 1\] did not finish'):
        run_distributed(_wait_in_a_named_function, world_size=2,
                        patch_mmengine=False, timeout=15.0)
    assert time.monotonic() - started < 45
    # each rank dumped its stack shortly before the parent gave up
    assert capfd.readouterr().err.count('_wait_in_a_named_function') >= 2
