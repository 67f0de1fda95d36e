"""POST /api/speech — text to OGG Vorbis bytes (a binary response, not base64 in JSON)."""

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from voicebot import runtime, wiring
from voicebot.config import speech_settings
from voicebot.http import json_body, require, rest_resolver
from voicebot.protocol import SpeechRequest, parse_model

from ._observability import logger, metrics, tracer

app = rest_resolver()


@app.post("/api/speech")
@tracer.capture_method
def synthesize() -> Response[bytes]:
    require(app, "client")
    request = parse_model(SpeechRequest, json_body(app))
    defaults = speech_settings()
    audio = runtime.run(
        wiring.speech_service().speak(
            request.text, request.voice or defaults.tts_voice, request.lang or defaults.tts_language
        )
    )
    return Response(status_code=200, content_type="audio/ogg", body=audio)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
