"""Thin entry points, one per DVC stage: read params.yaml, call cips.*, write outputs."""
