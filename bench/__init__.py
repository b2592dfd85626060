"""Benchmarks, the bench flow and the local sshd fleet used by tests, demo and bench."""
