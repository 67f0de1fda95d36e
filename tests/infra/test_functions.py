"""Each function: runtime, architecture, tracing, logs, size, placement, and exactly the
environment its handler reads (the lists below are written from lambdas/voicebot/config.py and
the handlers, not from the CDK code, so a drift on either side fails here)."""

from __future__ import annotations

import pytest

from voicebot import config as voicebot_config

from .conftest import REDIS_FUNCTIONS, Synth, flatten, function_ids, ref_id

POWERTOOLS = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"}
REDIS = {"REDIS_URL", "REDIS_AUTH_SECRET_ARN"}
SPEECH = {"TTS_PROVIDER", "TTS_VOICE", "TTS_LANGUAGE", "POLLY_ENGINE"}
PREEMPTION = {"PREEMPTIVE_ANSWERS", "PREEMPTIVE_TURN_FUNCTION"}
# The per-user quotas (services/quotas.py), read where turns and speech are billed.
QUOTAS = {
    "QUOTA_TURNS",
    "QUOTA_TURNS_WINDOW_SECONDS",
    "QUOTA_SPEECH_CHARS",
    "QUOTA_SPEECH_WINDOW_SECONDS",
}

EXPECTED_ENVIRONMENT: dict[str, set[str]] = {
    # It probes Redis (services/health.py): a down cache is reported, 503.
    "health": REDIS,
    "sessions": {"TOKEN_SECRET_ARN", "TOKEN_TTL_SECONDS", "MAX_SESSION_AGE_SECONDS"},
    # Preemptive answers: the transcripts function starts them in the chat function.
    "transcripts": {"TOKEN_SECRET_ARN", "CONNECTIONS_ENDPOINT"} | REDIS | PREEMPTION,
    # Redis holds the speech quota's counters.
    "speech": {"TOKEN_SECRET_ARN"} | SPEECH | REDIS | QUOTAS,
    # The page's microphone: signs Transcribe URLs; Redis holds its stream quota's counters.
    "transcribe": {
        "TOKEN_SECRET_ARN",
        "QUOTA_TRANSCRIBE_STREAMS",
        "QUOTA_TRANSCRIBE_WINDOW_SECONDS",
    }
    | REDIS,
    "history": {"TOKEN_SECRET_ARN", "HISTORY_TABLE"},
    "ws_connect": {"TOKEN_SECRET_ARN"} | REDIS,
    "ws_disconnect": REDIS,
    "ws_messages": REDIS | {"HISTORY_TABLE"},
    # The chat route: claims the turn, adopts a held answer or starts the turn in chat.
    "ws_chat": REDIS | PREEMPTION | QUOTAS,
    "chat": REDIS
    | SPEECH
    | QUOTAS
    | {
        "HISTORY_TABLE",
        "HISTORY_WINDOW_TURNS",
        "HISTORY_TTL_DAYS",
        "CHAT_PROVIDER",
        "CHAT_MODEL_ID",
        "CHAT_REGION",
        "CHAT_TEMPERATURE",
        "CHAT_MAX_TOKENS",
        "FIRST_CLAUSE_MIN_CHARS",
        "FIRST_PHRASE_MIN_CHARS",
        # A held (preemptive) turn posts to the page without a WebSocket event to go by.
        "CONNECTIONS_ENDPOINT",
        "PREEMPTIVE_ANSWERS",
    },
}


@pytest.fixture(scope="module")
def functions(synth: Synth) -> dict[str, dict]:
    return {key: synth.props(logical_id) for key, logical_id in function_ids(synth).items()}


def _env(function: dict) -> dict:
    return function.get("Environment", {}).get("Variables", {})


def test_one_function_per_handler_module(functions: dict[str, dict]) -> None:
    assert set(functions) == set(EXPECTED_ENVIRONMENT)
    for key, function in functions.items():
        assert function["Handler"] == f"handlers.{key}.handler"


@pytest.mark.parametrize("key", sorted(EXPECTED_ENVIRONMENT))
def test_environment_names_exactly_what_the_handler_reads(
    functions: dict[str, dict], key: str
) -> None:
    assert set(_env(functions[key])) == EXPECTED_ENVIRONMENT[key] | POWERTOOLS


def test_every_variable_set_is_a_setting_the_code_reads(functions: dict[str, dict]) -> None:
    fields = {
        name.upper()
        for cls in vars(voicebot_config).values()
        if isinstance(cls, type)
        and issubclass(cls, voicebot_config.EnvSettings)
        and cls is not voicebot_config.EnvSettings
        for name in cls.model_fields
    }
    for key, function in functions.items():
        unknown = set(_env(function)) - POWERTOOLS - fields
        assert not unknown, f"{key} sets variables no settings class reads: {unknown}"


def test_environment_values_point_at_this_stack(synth: Synth, functions: dict[str, dict]) -> None:
    chat = _env(functions["chat"])
    assert chat["CHAT_PROVIDER"] == "bedrock"
    assert chat["CHAT_MODEL_ID"] == "anthropic.claude-3-haiku-20240307-v1:0"
    assert chat["TTS_PROVIDER"] == "polly"
    assert chat["TTS_VOICE"] == "Seoyeon"
    assert chat["TTS_LANGUAGE"] == "ko-KR"
    assert chat["POLLY_ENGINE"] == "neural"
    assert ref_id(chat["HISTORY_TABLE"]) in synth.of_type("AWS::DynamoDB::Table")
    redis_url = flatten(chat["REDIS_URL"])
    assert redis_url.startswith("rediss://<") and redis_url.endswith("/0")
    assert "PrimaryEndPoint.Address" in redis_url and "PrimaryEndPoint.Port" in redis_url
    assert ref_id(chat["REDIS_AUTH_SECRET_ARN"]) in synth.of_type("AWS::SecretsManager::Secret")
    endpoint = flatten(_env(functions["transcripts"])["CONNECTIONS_ENDPOINT"])
    (websocket_api,) = synth.of_type("AWS::ApiGatewayV2::Api")
    assert endpoint.startswith(f"https://<{websocket_api}>.execute-api.")
    assert endpoint.endswith("/prod")
    for key in ("sessions", "transcripts", "speech", "history", "ws_connect"):
        secret = ref_id(_env(functions[key])["TOKEN_SECRET_ARN"])
        assert "SigningKey" in str(secret)
    assert _env(functions["sessions"])["TOKEN_TTL_SECONDS"] == "43200"
    transcripts = _env(functions["transcripts"])
    ws_chat = _env(functions["ws_chat"])
    for starter in (transcripts, ws_chat):
        assert ref_id(starter["PREEMPTIVE_TURN_FUNCTION"]) == function_ids(synth)["chat"]
    assert transcripts["PREEMPTIVE_ANSWERS"] == chat["PREEMPTIVE_ANSWERS"] == "true"
    assert ws_chat["PREEMPTIVE_ANSWERS"] == "true"


def test_only_the_turn_starters_may_invoke_a_function_and_only_chat(synth: Synth) -> None:
    """The transcripts function (preemptive turns) and the chat route's function (every page
    turn) invoke the chat function asynchronously; nothing else invokes anything."""
    chat = function_ids(synth)["chat"]
    invokers = {
        ref_id(role): statement["Resource"]
        for policy in synth.of_type("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "lambda:InvokeFunction" in str(statement["Action"])
        for role in policy["Properties"]["Roles"]
    }
    starters = {
        ref_id(synth.props(function_ids(synth)[key])["Role"]) for key in ("transcripts", "ws_chat")
    }
    assert set(invokers) == starters
    for role in starters:
        assert invokers[role] == {"Fn::GetAtt": [chat, "Arn"]}


@pytest.mark.parametrize("key", sorted(EXPECTED_ENVIRONMENT))
def test_runtime_architecture_tracing_and_logs(
    synth: Synth, functions: dict[str, dict], key: str
) -> None:
    function = functions[key]
    assert function["Runtime"] in ("python3.12", "python3.13")
    assert function["Architectures"] == ["arm64"]
    assert function["TracingConfig"] == {"Mode": "Active"}
    log_group = synth.props(ref_id(function["LoggingConfig"]["LogGroup"]) or "")
    assert log_group["RetentionInDays"] == 30


@pytest.mark.parametrize("key", sorted(EXPECTED_ENVIRONMENT))
def test_only_redis_users_run_in_the_vpc(functions: dict[str, dict], key: str) -> None:
    assert ("VpcConfig" in functions[key]) == (key in REDIS_FUNCTIONS)


def test_chat_runs_long_with_more_memory_and_the_rest_fit_api_gateway(
    functions: dict[str, dict],
) -> None:
    assert functions["chat"]["Timeout"] == 300
    assert functions["chat"]["MemorySize"] >= 1024
    for key, function in functions.items():
        if key != "chat":
            # An API Gateway integration gives up after 29 s; a longer timeout would hide it.
            assert function["Timeout"] < 29, key


def test_every_function_runs_the_same_single_asset(functions: dict[str, dict]) -> None:
    keys = {function["Code"]["S3Key"] for function in functions.values()}
    assert len(keys) == 1


def test_each_function_has_its_own_role(functions: dict[str, dict]) -> None:
    roles = [ref_id(function["Role"]) for function in functions.values()]
    assert len(set(roles)) == len(roles)
