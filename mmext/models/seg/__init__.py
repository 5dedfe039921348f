"""mmext.models.seg: components are added by their issues."""
