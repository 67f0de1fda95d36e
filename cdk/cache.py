"""The transcript bus and connection registry: ElastiCache (Valkey or Redis OSS), TLS + AUTH.

A single-node replication group in isolated subnets. Only the functions' security group may
connect, only on the cache port, and every client must speak TLS and present the AUTH token,
which is generated at deploy time into Secrets Manager (the functions read it by ARN).
"""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache
from constructs import Construct

from .nag import acknowledge
from .secrets import generated_secret

CACHE_PORT = 6379


class TranscriptCache(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        client_security_group: ec2.ISecurityGroup,
        engine: str,
        engine_version: str,
        node_type: str,
    ) -> None:
        super().__init__(scope, construct_id)
        # ElastiCache accepts 16-128 printable characters without / " @; letters and digits only
        # keeps the token safe in a URL and in a shell.
        self.auth_secret = generated_secret(
            self, "AuthToken", "AUTH token of the voicebot transcript cache (a plain string)"
        )
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="Voicebot transcript cache: TLS from the voicebot functions only",
            allow_all_outbound=False,
        )
        self.security_group.add_ingress_rule(
            client_security_group,
            ec2.Port.tcp(CACHE_PORT),
            "Voicebot functions to the transcript cache",
        )
        subnet_group = elasticache.CfnSubnetGroup(
            self,
            "SubnetGroup",
            description="Isolated subnets of the voicebot transcript cache",
            subnet_ids=vpc.select_subnets(subnet_type=subnets.subnet_type).subnet_ids,
        )
        self.replication_group = elasticache.CfnReplicationGroup(
            self,
            "ReplicationGroup",
            replication_group_description="Voicebot transcript bus and connection registry",
            engine=engine,
            engine_version=engine_version,
            cache_node_type=node_type,
            num_cache_clusters=1,
            port=CACHE_PORT,
            cache_subnet_group_name=subnet_group.ref,
            security_group_ids=[self.security_group.security_group_id],
            # With transit encryption on, clients must use TLS (mode "required" is the default).
            transit_encryption_enabled=True,
            at_rest_encryption_enabled=True,
            # A dynamic reference that CloudFormation resolves: the token is not in the template.
            auth_token=self.auth_secret.secret_value.unsafe_unwrap(),
            automatic_failover_enabled=False,
            multi_az_enabled=False,
            auto_minor_version_upgrade=True,
            snapshot_retention_limit=0,
        )
        # The group must not be created before its token exists.
        self.replication_group.node.add_dependency(self.auth_secret)
        acknowledge(
            self.auth_secret,
            "SMG4",
            "ElastiCache rotates an AUTH token through modify-replication-group (ROTATE, then "
            "SET), not through a Secrets Manager rotation function; rotate it that way if needed.",
        )
        acknowledge(
            self.replication_group,
            "AEC4",
            "One node keeps the idle cost low. The cache holds only short-lived relay state "
            "(24 h transcript streams, the connection registry); ElastiCache replaces a failed "
            "node and pages reconnect and resume.",
        )

    @property
    def url(self) -> str:
        """``rediss://host:port/0`` (the double s: TLS); the password comes from the secret."""
        host = self.replication_group.attr_primary_end_point_address
        port = self.replication_group.attr_primary_end_point_port
        return f"rediss://{host}:{port}/0"
