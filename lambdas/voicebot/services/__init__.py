"""Use cases: each takes plain inputs and ports, never reads the environment."""
