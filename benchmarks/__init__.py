"""fastscaffold's benchmarks: each figure side by side with a reference, measured in one run."""
