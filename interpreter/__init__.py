"""The Voicebot device interpreter: microphone or WAV → voice gate → speech recognizer → API.

Run it with ``python -m interpreter --help``. See ``interpreter/README.md``.
"""
