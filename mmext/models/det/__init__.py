"""mmext.models.det: components are added by their issues."""
