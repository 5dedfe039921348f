"""MMEngine resumes from its own checkpoints on torch >= 2.6 with mmext."""
import io
import os
import pickle
import subprocess
import sys

import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

import mmext  # noqa: F401  (allow-lists MMEngine's checkpoint globals)


class _LinearModel(BaseModel):

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(inputs)
        if mode == 'loss':
            return dict(loss=(out - inputs.sum(1, keepdim=True)).pow(2).mean())
        return out


class _RandomPoints(Dataset):

    def __len__(self) -> int:
        return 8

    def __getitem__(self, idx: int) -> dict:
        return dict(inputs=torch.randn(2, generator=torch.Generator()
                                       .manual_seed(idx)))


def _runner(work_dir: str, max_epochs: int, resume: bool) -> Runner:
    torch.manual_seed(0)  # the model is built before the Runner seeds
    return Runner(
        model=_LinearModel(),
        work_dir=work_dir,
        experiment_name=f'resume_{max_epochs}_{resume}',
        train_dataloader=dict(
            dataset=_RandomPoints(),
            sampler=dict(type='DefaultSampler', shuffle=True),
            batch_size=4,
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(
            optimizer=dict(type='SGD', lr=0.05, momentum=0.9)),
        # `end` is fixed so that the 2-epoch run is the 3-epoch schedule cut
        # short, as when a job is interrupted.
        param_scheduler=dict(type='MultiStepLR', milestones=[1, 2], end=3),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        resume=resume,
        randomness=dict(seed=0))


def test_torch_defaults_to_weights_only():
    # The fix must not work by turning weights_only off globally.
    assert torch.__version__ >= '2.6'
    obj = io.BytesIO()
    torch.save({'x': subprocess.Popen}, obj)
    obj.seek(0)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(obj)


def test_resume_continues_from_saved_epoch(tmp_path):
    work_dir = str(tmp_path)
    first = _runner(work_dir, max_epochs=2, resume=False)
    first.train()
    ckpt_path = os.path.join(work_dir, 'epoch_2.pth')
    saved = torch.load(ckpt_path)  # weights_only=True by default
    saved_momentum = saved['optimizer']['state'][0]['momentum_buffer']
    saved_loss = saved['message_hub']['log_scalars']['train/loss']

    resumed = _runner(work_dir, max_epochs=3, resume=True)
    seen = {}

    def record_state(runner=resumed):
        seen['epoch'] = runner.epoch
        seen['iter'] = runner.iter
        state = runner.optim_wrapper.optimizer.state_dict()['state'][0]
        seen['momentum'] = state['momentum_buffer'].clone()
        seen['loss_history'] = runner.message_hub.get_scalar(
            'train/loss').data[0].copy()
        seen['lr'] = runner.optim_wrapper.get_lr()['lr'][0]

    resumed.train_loop.run_epoch = _wrap_before(resumed.train_loop.run_epoch,
                                                record_state)
    resumed.train()

    assert seen['epoch'] == 2 and seen['iter'] == 4  # continues at epoch 3
    assert torch.equal(seen['momentum'], saved_momentum)
    assert list(seen['loss_history']) == list(saved_loss.data[0])
    assert seen['lr'] == pytest.approx(0.05 * 0.1 * 0.1)
    assert resumed.epoch == 3
    assert os.path.exists(os.path.join(work_dir, 'epoch_3.pth'))

    # The resumed run ends where an uninterrupted 3-epoch run ends.
    uninterrupted = _runner(str(tmp_path / 'full'), max_epochs=3,
                            resume=False)
    uninterrupted.train()
    for resumed_p, full_p in zip(resumed.model.parameters(),
                                 uninterrupted.model.parameters()):
        torch.testing.assert_close(resumed_p, full_p)


def _wrap_before(fn, before):

    def wrapped(*args, **kwargs):
        before()
        return fn(*args, **kwargs)

    return wrapped


def test_without_mmext_the_same_checkpoint_fails(tmp_path):
    _runner(str(tmp_path), max_epochs=1, resume=False).train()
    code = ('import torch, sys\n'
            'try:\n'
            f'    torch.load({str(tmp_path / "epoch_1.pth")!r})\n'
            'except Exception as e:\n'
            '    sys.exit(3 if "Weights only load failed" in str(e) else 4)\n')
    result = subprocess.run([sys.executable, '-c', code])
    assert result.returncode == 3


def test_restricted_getattr_refuses_other_lookups():
    # getattr is allow-listed only for the lookups MMEngine writes: a pickle
    # reaching any other attribute of an allow-listed object is refused.
    from mmengine.logging import HistoryBuffer

    class _Evil:

        def __reduce__(self):
            return getattr, (HistoryBuffer, '__init__')

    buffer = io.BytesIO()
    torch.save({'x': _Evil()}, buffer)
    buffer.seek(0)
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer.__init__'):
        torch.load(buffer)


def test_allow_list_is_idempotent():
    before = len(torch.serialization.get_safe_globals())
    mmext.allow_mmengine_checkpoint_globals()
    assert len(torch.serialization.get_safe_globals()) == before
