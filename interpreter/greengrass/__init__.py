"""Packaging the interpreter as an AWS IoT Greengrass v2 component."""
