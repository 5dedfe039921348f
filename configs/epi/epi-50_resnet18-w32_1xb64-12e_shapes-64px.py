# EPI on the Shapes classification demo (docs: configs/epi/README.md).
# Train the half-width ResNet-18 from scratch for the demo's 12 epochs; EPI
# (magnitude criterion) tracks the dominant sub-network that removes 50 % of
# the channels and prunes to it once that sub-network is stable; the rest of
# the schedule runs on the physically slimmed network.
#
#   python tools/train.py THIS_CONFIG
#   python tools/analysis_tools/epi_oracle.py THIS_CONFIG   # the oracle grid
_base_ = ['../shapes/cls_resnet18-w32_1xb64-12e_shapes-64px.py']

# Tracking frequency: the paper tracks once per epoch of a 90-epoch ImageNet
# schedule, 1/90 of it. The same fraction of this 900-iteration schedule
# (12 epochs x 75 iterations of 64 images) is 10 iterations, so the
# earliest possible trigger (window 5 + patience 5 points, as in the paper)
# comes after 110 iterations, 1.5 of the 12 epochs.
epi_hook = dict(
    type='mmext.EPIHook',
    input_shape=(3, 64, 64),
    pruned_ratio=0.5,
    criterion='magnitude',
    window=5,
    patience=5,
    tau=0.983,
    by_epoch=False,
    interval=10,
    latest_epoch=6)
custom_hooks = [epi_hook]
randomness = dict(seed=0)

# Loading in the main process: on the 2-core machine the demo was measured
# on, data workers compete with the training threads, and 0 workers is
# faster for the dense model (0.365 vs 0.394 s per iteration) and more so
# for the slim one (0.126 vs 0.192 s), docs/benchmarks.md. Raise it on
# machines with cores to spare.
train_dataloader = dict(num_workers=0, persistent_workers=False)
val_dataloader = dict(num_workers=0, persistent_workers=False)
test_dataloader = val_dataloader
