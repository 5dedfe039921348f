# EPI with the gradient criterion (BN-Taylor, averaged over each epoch) on
# ImageNet ResNet-50; otherwise epi-50_resnet50_8xb128-90e_imagenet-224px.py.
# tau = 0.944 is the third-party value for this criterion (UNVERIFIED, see
# configs/epi/README.md).
_base_ = ['./epi-50_resnet50_8xb128-90e_imagenet-224px.py']

custom_hooks = [dict(_base_.epi_hook, criterion='taylor', tau=0.944)]
