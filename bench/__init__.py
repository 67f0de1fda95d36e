"""Benchmarks of the Voicebot (turn latency, relay load, cold start); never part of the test run.

Each benchmark is a module run as ``python -m bench.<name>`` (see its ``--help``); results go to
``bench/results/`` (git-ignored). docs/BENCHMARKS.md explains them and shows the latest figures.
"""
