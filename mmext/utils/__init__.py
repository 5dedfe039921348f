"""Small utilities shared by mmext components."""
