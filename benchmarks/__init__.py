"""asv benchmarks: container overhead and raw metrics, tracked over commits (README: asv)."""
