"""mmext.engine.hooks: components are added by their issues."""
