"""Peers users would pick instead, and limit references: what the benchmarks compare with."""
