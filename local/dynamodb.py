"""A DynamoDB-compatible endpoint whose data survives a restart: moto's server plus a journal.

moto keeps tables in memory. Every write request it accepts (status 200) is appended to a
journal (JSON lines, fsync'd) *before* the response goes back, so a write the client saw succeed
is on disk. At start the journal is replayed into a fresh moto, then compacted (one CreateTable
plus one PutItem per live item; items past their TTL are dropped). Writes are serialised so the
journal order is the order moto applied them, which makes the replay exact.

The server runs as a child process (``python -m local.dynamodb --data-dir D``) so moto's work
does not compete for the stack's interpreter lock.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

JOURNAL_NAME = "journal.jsonl"
_WRITE_TARGETS = frozenset(
    {
        "CreateTable",
        "DeleteTable",
        "UpdateTable",
        "UpdateTimeToLive",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchWriteItem",
        "TransactWriteItems",
        "ExecuteStatement",
        "BatchExecuteStatement",
        "ExecuteTransaction",
        "TagResource",
        "UntagResource",
    }
)
_REGION = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/dynamodb/")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Journal:
    """Append-only log of accepted write requests, in the order they were applied."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("ab")

    def append(self, region: str, operation: str, body: bytes) -> None:
        entry = {"region": region, "op": operation, "body": json.loads(body or b"{}")}
        self._file.write(json.dumps(entry, ensure_ascii=False).encode() + b"\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def read_entries(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    entries = []
    for line in path.read_bytes().splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            break  # a torn last line from a crash mid-write: that request never got its answer
    return entries


class JournalingApp:
    """WSGI middleware around moto: journal every successful write before answering it."""

    def __init__(self, app: WsgiApp, journal: Journal | None) -> None:
        self._app = app
        self._journal = journal
        self._write_lock = threading.Lock()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        operation = environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")[2]
        if operation not in _WRITE_TARGETS or self._journal is None:
            return self._app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        match = _REGION.search(environ.get("HTTP_AUTHORIZATION", ""))
        region = match.group(1) if match else "us-east-1"
        status: list[str] = []

        def capture(code: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status.append(code)
            return start_response(code, headers, exc_info)

        with self._write_lock:
            chunks = list(self._app(environ, capture))
            if status and status[0].startswith("200"):
                self._journal.append(region, operation, body)
        return chunks


def _moto_app() -> WsgiApp:
    from moto.moto_server.werkzeug_app import create_backend_app

    return create_backend_app("dynamodb")


def _call(app: WsgiApp, region: str, operation: str, body: dict[str, Any]) -> tuple[int, Any]:
    """One DynamoDB JSON request straight into the WSGI app (no socket, no signing)."""
    from werkzeug.test import Client

    response = Client(app).post(
        "/",
        data=json.dumps(body),
        headers={
            "X-Amz-Target": f"DynamoDB_20120810.{operation}",
            "Content-Type": "application/x-amz-json-1.0",
            # moto picks the region's backend from the credential scope.
            "Authorization": f"AWS4-HMAC-SHA256 Credential=local/20240101/{region}/dynamodb/x",
        },
    )
    # moto answers application/x-amz-json-1.0, which werkzeug's get_json does not treat as JSON.
    return response.status_code, json.loads(response.data or b"null")


def _compacted(app: WsgiApp, regions: set[str]) -> list[dict[str, Any]]:
    """The journal that rebuilds the current state: tables, TTL settings and live items."""
    now = int(time.time())
    entries: list[dict[str, Any]] = []
    for region in sorted(regions):
        _, listed = _call(app, region, "ListTables", {})
        for name in (listed or {}).get("TableNames", []):
            _, described = _call(app, region, "DescribeTable", {"TableName": name})
            table = described["Table"]
            create: dict[str, Any] = {
                "TableName": name,
                "KeySchema": table["KeySchema"],
                "AttributeDefinitions": table["AttributeDefinitions"],
                "BillingMode": "PAY_PER_REQUEST",
            }
            for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
                if table.get(kind):
                    create[kind] = [
                        {k: ix[k] for k in ("IndexName", "KeySchema", "Projection")}
                        for ix in table[kind]
                    ]
            entries.append({"region": region, "op": "CreateTable", "body": create})
            _, ttl = _call(app, region, "DescribeTimeToLive", {"TableName": name})
            ttl_desc = (ttl or {}).get("TimeToLiveDescription", {})
            ttl_attr = (
                ttl_desc.get("AttributeName")
                if ttl_desc.get("TimeToLiveStatus") == "ENABLED"
                else None
            )
            if ttl_attr:
                spec = {"AttributeName": ttl_attr, "Enabled": True}
                entries.append(
                    {
                        "region": region,
                        "op": "UpdateTimeToLive",
                        "body": {"TableName": name, "TimeToLiveSpecification": spec},
                    }
                )
            scan: dict[str, Any] = {"TableName": name}
            while True:
                _, page = _call(app, region, "Scan", scan)
                for item in page.get("Items", []):
                    expires = item.get(ttl_attr, {}).get("N") if ttl_attr else None
                    if expires is not None and float(expires) < now:
                        continue  # what DynamoDB's TTL would have deleted by now
                    entries.append(
                        {
                            "region": region,
                            "op": "PutItem",
                            "body": {"TableName": name, "Item": item},
                        }
                    )
                if "LastEvaluatedKey" not in page:
                    break
                scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return entries


def restore(app: WsgiApp, journal_path: Path) -> int:
    """Replay the journal into ``app``, then rewrite it compacted; return the entries replayed."""
    entries = read_entries(journal_path)
    for entry in entries:
        status, answer = _call(app, entry["region"], entry["op"], entry["body"])
        if status != 200:
            raise RuntimeError(f"journal replay failed at {entry['op']}: {answer}")
    if entries:
        compact = _compacted(app, {e["region"] for e in entries})
        tmp = journal_path.with_suffix(".tmp")
        with tmp.open("wb") as out:
            for entry in compact:
                out.write(json.dumps(entry, ensure_ascii=False).encode() + b"\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, journal_path)  # atomic: a crash leaves the old journal or the new one
    return len(entries)


def serve(data_dir: Path | None, port: int) -> None:
    from werkzeug.serving import make_server

    app = _moto_app()
    journal: Journal | None = None
    if data_dir is not None:
        path = data_dir / JOURNAL_NAME
        restore(app, path)
        journal = Journal(path)
    server = make_server("127.0.0.1", port, JournalingApp(app, journal), threaded=True)
    print(f"ready http://127.0.0.1:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if journal is not None:
            journal.close()


def ensure_history_table(endpoint: str, table: str, region: str) -> None:
    """Create the history table (as the CDK stack defines it) when it does not exist yet."""
    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=region,
        config=Config(retries={"max_attempts": 3}),
    )
    try:
        client.describe_table(TableName=table)
        return
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
    client.create_table(
        TableName=table,
        KeySchema=[
            {"AttributeName": "userId", "KeyType": "HASH"},
            {"AttributeName": "turnKey", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "userId", "AttributeType": "S"},
            {"AttributeName": "turnKey", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    client.update_time_to_live(
        TableName=table, TimeToLiveSpecification={"AttributeName": "expiresAt", "Enabled": True}
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description="A local DynamoDB endpoint (moto) that keeps its data."
    )
    parser.add_argument("--data-dir", type=Path, help="where the journal lives (omit: memory only)")
    parser.add_argument("--port", type=int, default=0, help="loopback port (0: any free port)")
    parser.add_argument("--exit-with-parent", action="store_true", help="stop when the parent dies")
    args = parser.parse_args()
    if args.exit_with_parent:
        from .children import exit_with_parent

        exit_with_parent()
    serve(args.data_dir, args.port)


if __name__ == "__main__":
    main()
