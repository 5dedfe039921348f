# EPI with the BN-Taylor criterion (averaged over each tracking interval) on
# the Shapes demo; otherwise as epi-50_resnet18-w32_1xb64-12e_shapes-64px.py.
_base_ = ['./epi-50_resnet18-w32_1xb64-12e_shapes-64px.py']

custom_hooks = [dict(_base_.epi_hook, criterion='taylor', tau=0.944)]
