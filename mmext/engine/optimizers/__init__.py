"""mmext.engine.optimizers: components are added by their issues."""
