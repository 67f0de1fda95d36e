"""Secrets the functions sign and check tokens with, generated at deploy time.

The token-signing key never leaves Secrets Manager and the functions (each reads it by ARN). The
optional access code comes from context, so it is in the synthesized template: it is a shared
passphrase that keeps strangers from minting sessions, not a credential.
"""

from __future__ import annotations

import re

from aws_cdk import SecretValue
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from .nag import acknowledge

_COMPLETE_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")


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


class ChatApiKey(Construct):
    """The API key of an OpenAI-compatible or NIM chat endpoint, in Secrets Manager.

    Either the deployer's existing secret (``chatApiKeySecretArn``) or one this stack creates
    *empty*: the key is never in context nor in the template; the deployer puts it afterwards
    with ``aws secretsmanager put-secret-value`` (README, *Chat providers*). The chat function
    reads it by ARN when it builds its model.
    """

    def __init__(self, scope: Construct, construct_id: str, *, existing_arn: str) -> None:
        super().__init__(scope, construct_id)
        self.created = not existing_arn
        self.secret: secretsmanager.ISecret
        if existing_arn:
            # A complete ARN ends in the six characters Secrets Manager appends to the name;
            # a partial one is granted with that suffix as "??????" (still that one secret).
            complete = bool(_COMPLETE_SUFFIX.search(existing_arn))
            self.secret = (
                secretsmanager.Secret.from_secret_complete_arn(self, "Imported", existing_arn)
                if complete
                else secretsmanager.Secret.from_secret_partial_arn(self, "Imported", existing_arn)
            )
            return
        created = secretsmanager.Secret(
            self,
            "Secret",
            description="API key of the chat endpoint (a plain string; put it after deploying)",
        )
        # CDK generates a value unless told otherwise; without one, CloudFormation creates the
        # secret with no value at all, so no made-up key is ever sent to the endpoint.
        cfn = created.node.default_child
        assert isinstance(cfn, secretsmanager.CfnSecret)
        cfn.add_property_deletion_override("GenerateSecretString")
        acknowledge(
            created,
            "SMG4",
            "The key is issued by the chat provider, not by AWS: a rotation function cannot mint "
            "a new one. Rotate it at the provider and put it with put-secret-value; new chat "
            "function instances read the new value.",
        )
        self.secret = created
