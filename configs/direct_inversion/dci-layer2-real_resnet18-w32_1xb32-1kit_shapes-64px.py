# The upper bound the attacker does not have: the same inverter as
# dci-layer2_resnet18-w32_1xb32-1kit_shapes-64px.py
# trained on the classifier's real training crops (with its flips) instead
# of synthetic images.
_base_ = ['./dci-layer2_resnet18-w32_1xb32-1kit_shapes-64px.py']
train_dataloader = dict(
    _delete_=True,
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        _base_.val_dataloader.dataset,
        ann_file='classification/meta/train.txt',
        data_prefix='classification/train',
        test_mode=False,
        pipeline=_base_.train_pipeline))
