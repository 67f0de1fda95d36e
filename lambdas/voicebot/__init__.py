"""Voicebot shared core: protocol models, auth, segmentation, ports, adapters and services.

Handlers in ``lambdas/handlers`` stay thin and call into this package; the local stack imports the
same handlers, so everything environment-specific lives in configuration and adapters.
"""
