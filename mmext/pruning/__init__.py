"""mmext.pruning: components are added by their issues."""
