# Diagnostic twin of gradinversion_resnet18-w32_b8-600it_shapes-64px.py, not
# an attack: every seed starts from the true batch plus N(0, 0.5^2) noise
# (normalised units) instead of N(0, 1) noise, and the same objective is
# optimised. Its PSNR is that of the objective's optimum near the truth;
# the gap to the full method's is what the optimisation from random starts
# loses (configs/gradinversion/README.md, "Where the accuracy goes").
_base_ = ['./gradinversion_resnet18-w32_b8-600it_shapes-64px.py']
test_cfg = dict(attack=dict(init='oracle', init_noise=0.5))
