"""The Lambda functions: one per handler module, each with its own least-privilege role.

Roles are written out rather than built from AWS managed policies, so each one can write only its
own log group. What a function may read follows from the environment its handler needs (a function
that is told a secret's ARN may read that secret, nothing else); the remaining grants come from
its ``FunctionSpec``.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import ArnFormat, CfnElement, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from voicebot.contract.routes import FUNCTIONS, FunctionSpec
from voicebot.contract.settings import (
    ChatSettings,
    PreemptionSettings,
    RedisSettings,
    SessionSettings,
    TokenSettings,
)
from voicebot.contract.wire import PageTurn

from . import constants as c
from .cache import TranscriptCache
from .history_table import HistoryTable
from .nag import acknowledge
from .network import Network
from .secrets import ChatApiKey, TokenSecrets
from .settings import Settings

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64

# What the Lambda service does with a VPC function's role to attach it to the subnets. EC2 does
# not support resource-level permissions for the Describe calls, and the network interfaces do not
# exist before Lambda creates them, so AWS's own policy for this (AWSLambdaVPCAccessExecutionRole)
# grants them on "*" too.
_VPC_ENI_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)
_BEDROCK_ACTIONS = ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream")
_TRANSCRIBE_ACTION = "transcribe:StartStreamTranscriptionWebSocket"


@dataclass(frozen=True)
class WebSocketTarget:
    """Where functions post to connections (the API exists before its routes and functions)."""

    api_id: str
    stage_name: str
    api_resource: CfnElement


def _construct_id(key: str) -> str:
    return "".join(part.capitalize() for part in key.split("_"))


class VoicebotFunctions(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        code: lambda_.Code,
        network: Network,
        cache: TranscriptCache,
        history: HistoryTable,
        secrets: TokenSecrets,
        chat_api_key: ChatApiKey | None,
        websocket: WebSocketTarget,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self._network = network
        self._history = history
        self._websocket = websocket
        stack = Stack.of(self)
        # Setting field name -> the value this deployment gives it (the rest keep their defaults).
        self._values = self._setting_values(
            settings, cache, history, secrets, chat_api_key, websocket
        )
        # The secrets a function may read: those whose ARN is in its environment.
        self._secrets: dict[str, secretsmanager.ISecret] = {
            TokenSettings.variable("token_secret_arn"): secrets.signing_key,
            RedisSettings.variable("redis_auth_secret_arn"): cache.auth_secret,
        }
        if secrets.access_code is not None:
            self._secrets[SessionSettings.variable("access_code_arn")] = secrets.access_code
        if chat_api_key is not None:
            self._secrets[ChatSettings.variable("chat_api_key_arn")] = chat_api_key.secret
        self._connections_arn = stack.format_arn(
            service="execute-api",
            resource=websocket.api_id,
            # This stage, POST only: the functions send to connections and never delete them.
            resource_name=f"{websocket.stage_name}/POST/@connections/*",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        self.by_key: dict[str, lambda_.Function] = {
            spec.key: self._build_function(spec, code, log_retention) for spec in FUNCTIONS
        }
        for spec in FUNCTIONS:
            if spec.starts_turns_in:
                self._let_start_turns(self.by_key[spec.key], self.by_key[spec.starts_turns_in])

    @staticmethod
    def _setting_values(
        settings: Settings,
        cache: TranscriptCache,
        history: HistoryTable,
        secrets: TokenSecrets,
        chat_api_key: ChatApiKey | None,
        websocket: WebSocketTarget,
    ) -> dict[str, object]:
        stack = Stack.of(cache)
        values: dict[str, object] = {
            **settings.function_settings,
            "token_secret_arn": secrets.signing_key.secret_arn,
            "redis_url": cache.url,
            "redis_auth_secret_arn": cache.auth_secret.secret_arn,
            "connections_endpoint": (
                f"https://{websocket.api_id}.execute-api.{stack.region}.{stack.url_suffix}"
                f"/{websocket.stage_name}"
            ),
            "history_table": history.table.table_name,
            # The speech provider this stack grants (Polly), said explicitly to the functions;
            # the chat provider is the deployment's choice (in function_settings).
            "tts_provider": "polly",
        }
        if settings.invokes_bedrock:
            values["chat_region"] = settings.chat_region
        if chat_api_key is not None:
            values["chat_api_key_arn"] = chat_api_key.secret.secret_arn
        if secrets.access_code is not None:
            values["access_code_arn"] = secrets.access_code.secret_arn
        # An optional setting left unset is not written: the function keeps its default (None).
        return {name: value for name, value in values.items() if value is not None}

    @staticmethod
    def _let_start_turns(caller: lambda_.Function, chat: lambda_.Function) -> None:
        """Preemptive turns: the caller invokes the chat function asynchronously, by name."""
        caller.add_environment(
            PreemptionSettings.variable("preemptive_turn_function"), chat.function_name
        )
        # That one function only (grant_invoke would add its versions too, as "<arn>:*").
        assert caller.role is not None
        caller.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[chat.function_arn])
        )

    def _environment(self, spec: FunctionSpec) -> dict[str, str]:
        """The variables of the settings this function reads, for the values the deployment has."""
        environment: dict[str, str] = {}
        for settings_class in spec.settings:
            chosen = {f: v for f, v in self._values.items() if f in settings_class.model_fields}
            environment.update(settings_class.environment(**chosen))
        return environment

    def _build_function(
        self, spec: FunctionSpec, code: lambda_.Code, log_retention: logs.RetentionDays
    ) -> lambda_.Function:
        scope = Construct(self, _construct_id(spec.key))
        log_group = logs.LogGroup(
            scope, "Logs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        role = iam.Role(
            scope,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Voicebot {spec.key} function",
        )
        log_group.grant_write(role)
        environment = {
            "POWERTOOLS_SERVICE_NAME": c.SERVICE_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": c.METRICS_NAMESPACE,
            **self._environment(spec),
        }
        function = lambda_.Function(
            scope,
            "Function",
            description=f"Voicebot: {spec.description}",
            code=code,
            handler=spec.handler,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_seconds),
            environment=environment,
            reserved_concurrent_executions=self._reserved_concurrency(spec),
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            # Only the functions that talk to Redis run in the VPC (the others start faster).
            vpc=self._network.vpc if spec.in_vpc else None,
            vpc_subnets=self._network.function_subnets if spec.in_vpc else None,
            security_groups=[self._network.function_security_group] if spec.in_vpc else None,
        )
        self._grant(spec, role, environment)
        self._acknowledge(spec, function, role)
        return function

    def _reserved_concurrency(self, spec: FunctionSpec) -> int | None:
        """Chat turns run for minutes: reserved concurrency keeps a flood of them from taking
        the account's whole Lambda concurrency (and caps what they can cost at once)."""
        if spec.key != PageTurn.function:  # the function that runs the turns
            return None
        return self._settings.chat_reserved_concurrency or None

    def _grant(self, spec: FunctionSpec, role: iam.Role, environment: dict[str, str]) -> None:
        for name, secret in self._secrets.items():
            if name in environment:
                secret.grant_read(role)
        if spec.in_vpc:
            role.add_to_policy(iam.PolicyStatement(actions=list(_VPC_ENI_ACTIONS), resources=["*"]))
        if spec.table_actions:
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=list(spec.table_actions), resources=[self._history.table.table_arn]
                )
            )
        if spec.manage_connections:
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["execute-api:ManageConnections"], resources=[self._connections_arn]
                )
            )
        if spec.synthesize_speech:
            # SynthesizeSpeech is authorised against lexicons only; with no lexicon in the request
            # there is no resource to name, so AWS requires "*". Only this action is granted.
            role.add_to_policy(
                iam.PolicyStatement(actions=["polly:SynthesizeSpeech"], resources=["*"])
            )
        if spec.invoke_model and self._settings.invokes_bedrock:
            role.add_to_policy(
                iam.PolicyStatement(actions=list(_BEDROCK_ACTIONS), resources=self._model_arns())
            )
        if spec.start_transcription:
            # The pre-signed URLs it mints carry this role's signature: the page's stream may do
            # this one action. Transcribe streaming has no resource types to name.
            role.add_to_policy(iam.PolicyStatement(actions=[_TRANSCRIBE_ACTION], resources=["*"]))

    def _acknowledge(self, spec: FunctionSpec, function: lambda_.Function, role: iam.Role) -> None:
        acknowledge(
            function,
            "L1",
            f"Python {c.LAMBDA_PYTHON_VERSION}, not 3.14: numpy (required by langchain-aws) has no "
            "cp314 manylinux aarch64 wheel on the index, and the asset is built without Docker.",
        )
        wildcard_uses = ["X-Ray PutTraceSegments/PutTelemetryRecords (no resource-level ARNs)"]
        if spec.in_vpc:
            wildcard_uses.append("the VPC network-interface calls Lambda makes for the function")
        if spec.synthesize_speech:
            wildcard_uses.append("polly:SynthesizeSpeech (authorised on lexicons; none is used)")
        if spec.start_transcription:
            wildcard_uses.append(
                "transcribe:StartStreamTranscriptionWebSocket (no resource types exist for it)"
            )
        acknowledge(
            role,
            "IAM5[Resource::*]",
            "Only actions that AWS authorises on no specific resource use '*': "
            + "; ".join(wildcard_uses)
            + ".",
        )
        if spec.manage_connections:
            acknowledge(
                role,
                f"IAM5[Resource::{self._nag_connections_arn()}]",
                "Connection ids exist only at run time; the grant is limited to POST on this "
                "stack's WebSocket API and stage.",
            )
        if (
            spec.invoke_model
            and self._settings.invokes_bedrock
            and self._settings.model_is_inference_profile
        ):
            acknowledge(
                role,
                f"IAM5[Resource::arn:<AWS::Partition>:bedrock:*::foundation-model/"
                f"{self._settings.model_id.split('.', 1)[1]}]",
                "A cross-region inference profile forwards to the same model in the regions of its "
                "geography; the grant names that one model and no other.",
            )

    def _nag_connections_arn(self) -> str:
        """The management-API ARN as cdk-nag spells it in a finding id."""
        stack = Stack.of(self)
        api_logical_id = stack.resolve(stack.get_logical_id(self._websocket.api_resource))
        return (
            f"arn:<AWS::Partition>:execute-api:{stack.region}:<AWS::AccountId>:<{api_logical_id}>"
            f"/{self._websocket.stage_name}/POST/@connections/*"
        )

    def _model_arns(self) -> list[str]:
        """The configured model only (and, for an inference profile, the model it routes to)."""
        stack = Stack.of(self)
        settings = self._settings
        partition = stack.partition
        if not settings.model_is_inference_profile:
            return [
                f"arn:{partition}:bedrock:{settings.chat_region}::foundation-model/{settings.model_id}"
            ]
        # A cross-region profile ("us.anthropic…") forwards to the same model in any of the
        # regions of its geography, which AWS may extend, so the model ARN names no region.
        base_model = settings.model_id.split(".", 1)[1]
        return [
            f"arn:{partition}:bedrock:{settings.chat_region}:{stack.account}"
            f":inference-profile/{settings.model_id}",
            f"arn:{partition}:bedrock:*::foundation-model/{base_model}",
        ]
