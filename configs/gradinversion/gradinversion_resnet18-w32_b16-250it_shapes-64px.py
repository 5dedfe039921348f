# gradinversion_resnet18-w32_b8-600it_shapes-64px.py with batches of 16 (8
# classes, so labels repeat: random sampling). Each iteration costs about
# twice as much, so 250 iterations keep the run within 10 minutes on a
# 2-core CPU; the group schedule is scaled with them.
_base_ = ['./gradinversion_resnet18-w32_b8-600it_shapes-64px.py']
test_dataloader = dict(batch_size=16)
test_cfg = dict(
    batch_size=16,
    sampling='random',
    # The paper's label rule names each class at most once, so it cannot
    # label a batch larger than the 8 classes: these runs are given the
    # batch's labels (the label-known threat model of DLG-style attacks).
    labels='true',
    attack=dict(iterations=250, group_start=60, group_every=10))
# No label-recovery metric (labels are given).
test_evaluator = [
    dict(type='mmext.ImageReconstructionMetric'),
    dict(type='mmext.IdentifiabilityPrecision', space='feature'),
    dict(type='mmext.IdentifiabilityPrecision', space='pixel'),
]
