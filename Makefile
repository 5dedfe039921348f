# mmext: the two commands a new user runs are `make demo` and `make test`.
# Both bring up .venv first (`make setup`), which is a no-op once done.

PYTHON ?= python3
# torch and the torchvision built for it, from the package index. `===` is an
# exact version match: a locally configured CPU-only build (2.13.0+cpu, e.g.
# from a pip find-links folder) does not satisfy it, and PyPI's torchvision
# wheels only load beside PyPI's own torch build. One override for both:
#   make clean-venv setup TORCH_PACKAGES="torch===2.5.1 torchvision===0.20.1"
TORCH_PACKAGES ?= torch===2.13.0 torchvision===0.28.0
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.mmext-setup-done
SHAPES_DEMO ?= data/shapes
# Pytest arguments, e.g. `make test PYTEST_ARGS="-k registry"`.
PYTEST_ARGS ?=

.PHONY: setup peers demo demo-panoptic demo-mvs test bench clean-venv

setup: $(STAMP)

$(STAMP): setup.py requirements/runtime.txt requirements/mminstall.txt requirements/tests.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH_PACKAGES) "setuptools>=77,<81" wheel ninja numpy
	@# mmcv 2.1.0 has no wheel for this torch on PyPI: build it with its ops
	@# against the torch above (about 12 minutes on 2 cores the first time;
	@# pip caches the wheel).
	@$(PY) -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'" 2>/dev/null || \
	  MMCV_WITH_OPS=1 MAX_JOBS=$${MAX_JOBS:-2} $(PIP) install --no-build-isolation "mmcv==2.1.0"
	$(PIP) install -q -r requirements/runtime.txt -r requirements/mminstall.txt -r requirements/tests.txt
	$(PIP) install -q --no-build-isolation --no-deps -e .
	$(PY) -c "import torchvision.ops, mmcv.ops, mmdet.models, mmseg.models, mmpretrain.models, mmext; print('mmext environment ready')"
	@touch $(STAMP)

# The peer libraries of the side-by-side benchmarks (docs/benchmarks.md):
# breaching for GradInversion. `make test` never needs them.
peers: setup
	$(PIP) install -q -r requirements/peers.txt
	$(PY) -c "import breaching; print('peer libraries ready')"

CLS_DEMO := configs/shapes/cls_resnet18-w32_1xb64-12e_shapes-64px.py
SEG_DEMO := configs/segformer/segformer_mit-b0_1xb16-1600it_shapes-128x128.py
# Each demo's metrics are printed beside the range its metafile.yml documents.
demo: setup
	$(PY) tools/misc/make_shapes.py --preset demo --out $(SHAPES_DEMO) --reuse
	$(PY) tools/train.py $(CLS_DEMO) --work-dir work_dirs/demo_cls
	$(PY) tools/misc/print_metrics.py work_dirs/demo_cls --config $(CLS_DEMO)
	$(PY) tools/train.py $(SEG_DEMO) --work-dir work_dirs/demo_segformer
	$(PY) tools/test.py $(SEG_DEMO) $$(cat work_dirs/demo_segformer/last_checkpoint) \
	  --work-dir work_dirs/demo_segformer/test \
	  --show-dir work_dirs/demo_segformer/overlays
	$(PY) tools/misc/print_metrics.py work_dirs/demo_segformer --config $(SEG_DEMO)
	@echo "SegFormer prediction overlays: work_dirs/demo_segformer/overlays/vis_data/vis_image/"

# Panoptic SegFormer on Shapes-panoptic: about 30 minutes on 2 cores.
PANOPTIC_DEMO := configs/panoptic_segformer/panoptic-segformer_r18-w32_1xb4-10e_shapes-panoptic-128px.py
demo-panoptic: setup
	$(PY) tools/misc/make_shapes.py --preset demo --out $(SHAPES_DEMO) --reuse
	$(PY) tools/train.py $(PANOPTIC_DEMO) --work-dir work_dirs/demo_panoptic
	$(PY) tools/test.py $(PANOPTIC_DEMO) $$(cat work_dirs/demo_panoptic/last_checkpoint) \
	  --work-dir work_dirs/demo_panoptic/test \
	  --show-dir overlays
	$(PY) tools/misc/print_metrics.py work_dirs/demo_panoptic --config $(PANOPTIC_DEMO)
	@echo "Panoptic overlays (ground truth | prediction): work_dirs/demo_panoptic/test/*/overlays/"

# CVP-MVSNet on Shapes-MVS: 30 minutes of training on 2 cores, then depth
# metrics, fused point clouds and their accuracy / completeness.
MVS_TRAIN := configs/cvp_mvsnet/cvp-mvsnet_2l-nsrc2_1xb4-1600it_shapes-mvs-64x80.py
MVS_DEMO := configs/cvp_mvsnet/cvp-mvsnet_3l-nsrc4_1xb4-1600it_shapes-mvs-128x160.py
demo-mvs: setup
	$(PY) tools/misc/make_shapes_mvs.py --preset demo --out data/shapes_mvs --reuse
	$(PY) tools/train.py $(MVS_TRAIN) --work-dir work_dirs/demo_mvs
	$(PY) tools/test.py $(MVS_DEMO) $$(cat work_dirs/demo_mvs/last_checkpoint) \
	  --work-dir work_dirs/demo_mvs/test
	$(PY) tools/mvs/fuse_depths.py $(MVS_DEMO) $$(cat work_dirs/demo_mvs/last_checkpoint) \
	  --out work_dirs/demo_mvs/points --overwrite
	$(PY) tools/mvs/eval_point_clouds.py work_dirs/demo_mvs/points data/shapes_mvs/test
	$(PY) tools/misc/print_metrics.py work_dirs/demo_mvs/test --config $(MVS_DEMO)

# Every skip is listed (-rs); with CI=true or MMEXT_STRICT_SKIPS=1 a skip whose
# reason is not in ALLOWED_SKIPS (tests/conftest.py) fails with status 1.
test: setup
	$(PY) -m pytest tests $(PYTEST_ARGS)

bench: setup
	$(PY) tools/analysis_tools/benchmark_segformer.py --archs b0 b2 --repeats 7

clean-venv:
	rm -rf $(VENV)
