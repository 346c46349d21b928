"""raytrade."""
