# gradinversion_resnet18-w32_b16-250it_shapes-64px.py with batches of 32.
# Each iteration costs about twice as much again: 2 seeds keep the run within
# 10 minutes on a 2-core CPU.
_base_ = ['./gradinversion_resnet18-w32_b16-250it_shapes-64px.py']
test_dataloader = dict(batch_size=32)
test_cfg = dict(batch_size=32, attack=dict(num_seeds=2))
