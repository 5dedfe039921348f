"""Tests for CPU distributed runs: mmext.utils.cpu_dist and dist_train.sh."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
from mmengine.config import Config

from mmext.testing import find_free_port
from mmext.utils.cpu_dist import (accelerator_available,
                                  close_distributed, cpu_model_wrapper_cfg,
                                  setup_cpu_distributed)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
needs_cpu_only = pytest.mark.skipif(
    accelerator_available(), reason='checks the CPU-only path')


def test_cpu_model_wrapper_cfg():
    assert cpu_model_wrapper_cfg(None, find_unused_parameters=True) == dict(
        type='MMDistributedDataParallel',
        device_ids=None,
        broadcast_buffers=False,
        find_unused_parameters=True)
    wrapper = cpu_model_wrapper_cfg(
        dict(type='MMDistributedDataParallel', broadcast_buffers=True))
    assert wrapper['device_ids'] is None and wrapper['broadcast_buffers']
    # It forwards device_ids to an MMDistributedDataParallel per submodule.
    wrapper = cpu_model_wrapper_cfg(
        dict(type='MMSeparateDistributedDataParallel'))
    assert wrapper['device_ids'] is None
    # Not a DDP subclass: no device_ids (it would be an unexpected kwarg).
    wrapper = cpu_model_wrapper_cfg(dict(type='MMFullyShardedDataParallel'))
    assert 'device_ids' not in wrapper


@needs_cpu_only
def test_setup_cpu_distributed(monkeypatch):
    cfg = Config(dict(launcher='none'))
    assert setup_cpu_distributed(cfg) is False
    cfg = Config(dict(launcher='slurm'))
    with pytest.raises(RuntimeError, match='--launcher pytorch'):
        setup_cpu_distributed(cfg)
    for name in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(name, raising=False)
    cfg = Config(dict(launcher='pytorch'))
    with pytest.raises(RuntimeError, match='RANK'):
        setup_cpu_distributed(cfg)

    monkeypatch.setenv('RANK', '0')
    monkeypatch.setenv('WORLD_SIZE', '1')
    monkeypatch.setenv('MASTER_ADDR', '127.0.0.1')
    monkeypatch.setenv('MASTER_PORT', str(find_free_port()))
    cfg = Config(
        dict(launcher='pytorch', env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    try:
        assert setup_cpu_distributed(cfg) is True
        assert dist.is_initialized() and dist.get_backend() == 'gloo'
        close_distributed()
        assert not dist.is_initialized()
        close_distributed()  # a second call (or no group) is a no-op
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.model_wrapper_cfg.device_ids is None


@needs_cpu_only
def test_dist_train_sh_on_cpu(toy_cfg, tmp_path):
    """``dist_train.sh CONFIG 2`` trains over gloo with two processes."""
    config = str(tmp_path / 'toy_cfg.py')
    toy_cfg.train_cfg.max_epochs = 1
    toy_cfg.log_level = 'WARNING'
    toy_cfg.dump(config)
    env = dict(
        os.environ,
        PYTHON=sys.executable,
        PORT=str(find_free_port()),
        OMP_NUM_THREADS='1')
    proc = subprocess.run(
        ['bash', 'tools/dist_train.sh', config, '2'],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ckpt = torch.load(
        str(tmp_path / 'work_dir' / 'epoch_1.pth'),
        map_location='cpu',
        weights_only=False)
    # 32 samples, batch 4, 2 ranks: 4 iterations an epoch.
    assert ckpt['meta']['iter'] == 4


def test_dist_scripts_usage():
    for script, nargs in (('dist_train.sh', 1), ('dist_test.sh', 2)):
        path = osp.join(REPO, 'tools', script)
        assert os.access(path, os.X_OK), f'{script} is not executable'
        proc = subprocess.run(['bash', path] + ['x'] * nargs,
                              capture_output=True,
                              text=True)
        assert proc.returncode == 2 and 'usage' in proc.stderr


@pytest.mark.parametrize('world_size', ['1', '2'])
def test_exit_process_keeps_status_and_output(world_size, tmp_path):
    """A tool's process ends with main()'s status, its printed and logged
    lines written out, with or without a distributed launcher."""
    log = tmp_path / 'run.log'
    script = (
        'import logging\n'
        'from mmext.utils.cpu_dist import exit_process\n'
        f'logging.basicConfig(filename={str(log)!r}, level=logging.INFO)\n'
        'logging.getLogger("tool").info("logged line")\n'
        'print("printed line", end="")\n'
        'exit_process(3)\n'
        'print("never")\n')
    env = dict(os.environ, WORLD_SIZE=world_size)
    proc = subprocess.run([sys.executable, '-c', script], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert proc.stdout == 'printed line'
    assert 'logged line' in log.read_text()
