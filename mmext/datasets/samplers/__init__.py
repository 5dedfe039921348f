"""mmext.datasets.samplers: components are added by their issues."""
