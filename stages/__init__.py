"""Thin entry points, one per DVC stage: read params.yaml, call cips.*, write outputs (`stages.entry`)."""

from cips.runtime import tune_allocator

tune_allocator()  # opt-in allocator tuning (CIPS_HEAP_REUSE=1) for every stage process
