"""mmext.engine.runner: components are added by their issues."""
