"""Names and fixed values shared by the constructs, in one place.

The functions, their routes and the settings they read are the contract's
(``voicebot.contract.routes`` and ``voicebot.contract.settings``), not repeated here. Construct
ids become part of CloudFormation logical ids: renaming one replaces the resource on the next
deploy, so treat them as stable.
"""

from __future__ import annotations

SERVICE_NAME = "voicebot"
METRICS_NAMESPACE = "Voicebot"

# Lambda runtime and the interpreter version the dependencies are built for: keep the two together.
# 3.13 rather than 3.14: not every dependency in lambdas/requirements.txt resolves to cp314
# manylinux aarch64 wheels yet (pip reports a conflict), and the asset must be built without Docker.
LAMBDA_PYTHON_VERSION = "3.13"
LAMBDA_PIP_PLATFORM = "manylinux2014_aarch64"
# Named only because BundlingOptions requires an image; the local bundler always builds instead.
LAMBDA_BUILD_IMAGE = "public.ecr.aws/sam/build-python3.13"

# Stage names: the REST stage is the origin path behind CloudFront's /api/*; the WebSocket stage is
# the last segment of the wss:// URL in config.json.
REST_STAGE = "prod"
WEBSOCKET_STAGE = "prod"
BINARY_MEDIA_TYPES = ("audio/ogg",)

# Outputs the stack prints (the README's deploy section quotes these names).
OUTPUT_PAGE_URL = "PageUrl"
OUTPUT_API_URL = "ApiUrl"
OUTPUT_WEBSOCKET_URL = "WebSocketUrl"
OUTPUT_INTERPRETER_ENDPOINT = "InterpreterEndpoint"
OUTPUT_ALARM_TOPIC = "AlarmTopicArn"
OUTPUT_DASHBOARD = "DashboardName"
OUTPUT_ACCESS_CODE_SECRET = "AccessCodeSecretArn"  # noqa: S105 (a name, not a secret)
OUTPUT_CHAT_API_KEY_SECRET = "ChatApiKeySecretArn"  # noqa: S105 (a name, not a secret)

# History table schema, fixed by lambdas/voicebot/adapters/dynamo_history.py.
HISTORY_PARTITION_KEY = "userId"
HISTORY_SORT_KEY = "turnKey"
HISTORY_TTL_ATTRIBUTE = "expiresAt"
