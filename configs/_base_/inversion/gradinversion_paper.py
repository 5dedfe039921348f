# GradInversion (Yin et al., "See through Gradients: Image Batch Recovery via
# GradInversion", CVPR 2021, arXiv 2104.07586) as a test loop, with the
# paper's weights (also mmext.inversion.InversionSettings' defaults):
# per-layer L2 gradient matching a_G = 1e-3, BN prior 0.1 on the running
# statistics ("BN_approx", first BN x10), TV 1e-4, l2 1e-6, 8 seeds with
# group consistency 0.01 from iteration 5k refreshed every 100, Adam lr 0.1
# with 50 warm-up iterations and cosine decay, noise 0.2, 20k iterations.
# One batch of 8 with distinct labels, labels recovered from the gradient.
# The data and the attacked model come from the config that uses this file,
# which sets
#   test_cfg = _base_.gradinversion_loop
#   test_evaluator = _base_.gradinversion_evaluator
# (names of their own: the data bases already define test_cfg and
# test_evaluator, and bases may not repeat a key).
gradinversion_loop = dict(
    type='mmext.GradInversionLoop',
    batch_size=8,
    num_batches=1,
    sampling='distinct_labels',
    labels='recovered',
    seed=0,
    pool_size=1000,
    checkpoint_interval=500,
    log_interval=100,
    attack=dict(
        iterations=20000,
        lr=0.1,
        warmup=50,
        grad_distance='l2',
        grad_weight=1e-3,
        bn_weight=0.1,
        first_bn_multiplier=10.0,
        tv_weight=1e-4,
        l2_weight=1e-6,
        group_weight=0.01,
        registration='translation',
        num_seeds=8,
        group_start=5000,
        group_every=100,
        noise=0.2))
gradinversion_evaluator = [
    dict(type='mmext.ImageReconstructionMetric'),
    dict(type='mmext.IdentifiabilityPrecision', space='feature'),
    dict(type='mmext.IdentifiabilityPrecision', space='pixel'),
    dict(type='mmext.LabelRecoveryAccuracy'),
]
