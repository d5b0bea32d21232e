"""Reference solutions: the same modules and API as ``labs/``, completed."""
