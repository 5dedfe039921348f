"""mmext.visualization: components are added by their issues."""
