"""Secrets the functions sign and check tokens with, generated at deploy time.

The token-signing key never leaves Secrets Manager and the functions (each reads it by ARN). The
optional access code comes from context, so it is in the synthesized template: it is a shared
passphrase that keeps strangers from minting sessions, not a credential.
"""

from __future__ import annotations

from aws_cdk import SecretValue
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from .nag import acknowledge


def generated_secret(
    scope: Construct, construct_id: str, description: str
) -> secretsmanager.Secret:
    """A secret generated at deploy time: 64 letters and digits, a plain string."""
    return secretsmanager.Secret(
        scope,
        construct_id,
        description=description,
        generate_secret_string=secretsmanager.SecretStringGenerator(
            password_length=64, exclude_punctuation=True
        ),
    )


class TokenSecrets(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, access_code: str) -> None:
        super().__init__(scope, construct_id)
        self.signing_key = generated_secret(
            self, "SigningKey", "HMAC key that signs voicebot session tokens (a plain string)"
        )
        acknowledge(
            self.signing_key,
            "SMG4",
            "No rotation Lambda: the key is rotated deliberately with put-secret-value. Functions "
            "re-read it within TOKEN_KEY_RELOAD_SECONDS (and when a signature fails) and accept "
            "tokens signed with AWSPREVIOUS for a grace window, so nobody is signed out.",
        )
        self.access_code: secretsmanager.Secret | None = None
        if access_code:
            self.access_code = secretsmanager.Secret(
                self,
                "AccessCode",
                description="Access code that POST /api/sessions asks for (a plain string)",
                secret_string_value=SecretValue.unsafe_plain_text(access_code),
            )
            acknowledge(
                self.access_code,
                "SMG4",
                "The access code is chosen by the deployer in context and shared with users; a "
                "rotation function could not tell them the new one. Change it by redeploying.",
            )
