"""POST /api/speech — text to OGG Vorbis bytes (a binary response, not base64 in JSON)."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from voicebot import runtime, wiring
from voicebot.config import speech_settings
from voicebot.contract import routes
from voicebot.contract.wire import SpeechRequest
from voicebot.errors import QuotaExceeded
from voicebot.http import HttpResponse, dispatch, json_body, require
from voicebot.protocol import parse_model

from ._observability import entry_point, metrics, tracer


@tracer.capture_method
def synthesize(event: APIGatewayProxyEvent) -> HttpResponse:
    claims = require(event, "client")
    request = parse_model(SpeechRequest, json_body(event))
    defaults = speech_settings()
    voice, language = request.voice or defaults.tts_voice, request.lang or defaults.tts_language
    audio = runtime.run(_speak(claims.user_id, request.text, voice, language))
    return HttpResponse(200, audio, content_type="audio/ogg")


async def _speak(user_id: str, text: str, voice: str, language: str) -> bytes:
    # Counted before Polly is called: over the quota, nothing is synthesized (or billed).
    try:
        await wiring.quota_service().spend_speech(user_id, len(text))
    except QuotaExceeded:
        metrics.add_metric(name="QuotaExceeded", unit=MetricUnit.Count, value=1)
        raise
    return await wiring.speech_service().speak(text, voice, language)


@entry_point(emits_metrics=True)
def handler(event: APIGatewayProxyEvent, context: LambdaContext) -> dict[str, Any]:
    return dispatch(event, {routes.SYNTHESIZE_SPEECH: synthesize})
