# Active learning on Shapes with the max box entropy alone,
# flip-consistency training every cycle and no pseudo-labels; everything
# else as alssl_ssd-r18-w32_1xb8-6x500it_shapes-128px.py.
_base_ = ['./alssl_ssd-r18-w32_1xb8-6x500it_shapes-128px.py']
train_cfg = dict(acquisition=dict(rule='entropy'), pseudo_label=None)
