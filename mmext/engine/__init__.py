"""mmext.engine: components are added by their issues."""
