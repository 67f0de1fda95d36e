"""Powertools Logger, Tracer and Metrics shared by every handler module."""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="voicebot")
tracer = Tracer(service="voicebot")
metrics = Metrics(namespace="Voicebot", service="voicebot")
