"""Adapters: one implementation of a port per backend (AWS, local/offline, scripted for tests)."""
