"""Powertools Logger, Tracer and Metrics shared by every handler module."""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="voicebot")
# Every AWS call goes through botocore (DynamoDB, @connections, Polly, Bedrock, Secrets Manager),
# so that is the one library traced. Patching all supported libraries also imported httpx (a
# LangChain dependency the functions never call) into every cold start: ~30 ms for nothing.
tracer = Tracer(service="voicebot", patch_modules=("botocore",))
metrics = Metrics(namespace="Voicebot", service="voicebot")
