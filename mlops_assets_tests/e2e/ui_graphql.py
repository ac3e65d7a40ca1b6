"""The few Dagster GraphQL operations the e2e tests drive, written against dagster-graphql 1.13's schema.

Every call goes over HTTP to the running webserver, exactly as the UI does; a GraphQL error or a
`...Error` union member raises with the server's message so a failing test says what broke.
"""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

REPOSITORY_NAME = "__repository__"
FINISHED_RUN_STATUSES = {"SUCCESS", "FAILURE", "CANCELED"}


class GraphQLError(AssertionError):
    """The server answered with errors or an error type instead of the expected result."""


@dataclass(frozen=True)
class GraphQLClient:
    url: str  # the webserver's base URL
    timeout_s: float = 30.0

    def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        req = urllib.request.Request(
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
            payload = json.loads(resp.read())
        if payload.get("errors"):
            raise GraphQLError(f"GraphQL errors: {json.dumps(payload['errors'], indent=1)[:4000]}")
        return payload["data"]


def _expect(result: dict[str, Any], typename: str) -> dict[str, Any]:
    if result.get("__typename") != typename:
        raise GraphQLError(f"expected {typename}, got {json.dumps(result, indent=1)[:4000]}")
    return result


LOCATIONS = """
query { workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message stack } } } } } }
"""


def wait_location_loaded(client: GraphQLClient, location: str, timeout_s: float = 90.0) -> None:
    """Block until ``location`` is LOADED; raise with the load error if its definitions failed to import."""
    deadline = time.monotonic() + timeout_s
    while True:
        ws = _expect(client.execute(LOCATIONS)["workspaceOrError"], "Workspace")
        entries = {e["name"]: e for e in ws["locationEntries"]}
        if location not in entries:
            raise GraphQLError(f"code location {location!r} not in workspace: {sorted(entries)}")
        entry = entries[location]
        if entry["loadStatus"] == "LOADED":
            err = entry["locationOrLoadError"]
            if err and err["__typename"] == "PythonError":
                raise GraphQLError(
                    f"code location {location!r} failed to load:\n{err['message']}\n{''.join(err['stack'])}"
                )
            return
        if time.monotonic() > deadline:
            raise GraphQLError(
                f"code location {location!r} still {entry['loadStatus']} after {timeout_s:.0f} s"
            )
        time.sleep(0.5)


ADD_DYNAMIC_PARTITION = """
mutation($key: String!, $defName: String!, $repo: RepositorySelector!) {
  addDynamicPartition(partitionKey: $key, partitionsDefName: $defName, repositorySelector: $repo) {
    __typename
    ... on AddDynamicPartitionSuccess { partitionsDefName partitionKey }
    ... on DuplicateDynamicPartitionError { partitionName }
    ... on PythonError { message }
    ... on UnauthorizedError { message }
  }
}
"""


def add_dynamic_partition(client: GraphQLClient, location: str, defs_name: str, key: str) -> None:
    """Add ``key`` to the dynamic partitions definition ``defs_name`` (already present is fine)."""
    repo = {"repositoryName": REPOSITORY_NAME, "repositoryLocationName": location}
    res = client.execute(ADD_DYNAMIC_PARTITION, {"key": key, "defName": defs_name, "repo": repo})
    result = res["addDynamicPartition"]
    if result["__typename"] not in ("AddDynamicPartitionSuccess", "DuplicateDynamicPartitionError"):
        raise GraphQLError(f"addDynamicPartition failed: {result}")


ASSET_JOB_NAMES = """
query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { __typename ... on AssetNode { jobNames } } }
"""


def implicit_asset_job(client: GraphQLClient, asset: str) -> str:
    """Name of the implicit asset job (`__ASSET_JOB...`) that can materialize ``asset``."""
    node = _expect(
        client.execute(ASSET_JOB_NAMES, {"key": {"path": [asset]}})["assetNodeOrError"], "AssetNode"
    )
    implicit = [n for n in node["jobNames"] if n.startswith("__ASSET_JOB")]
    if not implicit:
        raise GraphQLError(f"{asset} is in no implicit asset job: {node['jobNames']}")
    return implicit[0]


LAUNCH_RUN = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on PythonError { message stack }
    ... on InvalidSubsetError { message }
    ... on PipelineNotFoundError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on UnauthorizedError { message }
  }
}
"""


def launch_assets_run(
    client: GraphQLClient,
    location: str,
    job: str,
    assets: list[str],
    checks: list[tuple[str, str]],
    tags: dict[str, str],
) -> str:
    """Launch a run of ``assets`` (+ their ``checks`` as (asset, check) pairs); return its run id."""
    selector = {
        "repositoryLocationName": location,
        "repositoryName": REPOSITORY_NAME,
        "jobName": job,
        "assetSelection": [{"path": [a]} for a in assets],
        "assetCheckSelection": [{"assetKey": {"path": [a]}, "name": c} for a, c in checks],
    }
    params = {
        "selector": selector,
        "runConfigData": {},
        "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
    }
    result = _expect(client.execute(LAUNCH_RUN, {"params": params})["launchRun"], "LaunchRunSuccess")
    return result["run"]["runId"]


RUN_STATUS = """
query($runId: ID!) { runOrError(runId: $runId) { __typename ... on Run { status } } }
"""
RUN_FAILURE_EVENTS = """
query($runId: ID!) { logsForRun(runId: $runId, limit: 400) { __typename
  ... on EventConnection { events { __typename ... on MessageEvent { message level }
    ... on ExecutionStepFailureEvent { error { message stack } } } } } }
"""


def wait_for_run(client: GraphQLClient, run_id: str, timeout_s: float = 120.0) -> str:
    """Poll the run until it finishes; return its final status (raises on timeout, with the run's errors)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = _expect(client.execute(RUN_STATUS, {"runId": run_id})["runOrError"], "Run")
        if run["status"] in FINISHED_RUN_STATUSES:
            return run["status"]
        time.sleep(1.0)
    raise GraphQLError(f"run {run_id} not finished after {timeout_s:.0f} s:\n{run_errors(client, run_id)}")


def run_errors(client: GraphQLClient, run_id: str) -> str:
    """The run's ERROR-level messages and step failures, for assertion messages."""
    logs = client.execute(RUN_FAILURE_EVENTS, {"runId": run_id})["logsForRun"]
    events = logs.get("events", []) if logs["__typename"] == "EventConnection" else []
    lines = []
    for ev in events:
        if ev.get("level") in ("ERROR", "CRITICAL") or ev["__typename"] == "ExecutionStepFailureEvent":
            lines.append(f"{ev['__typename']}: {ev.get('message', '')}")
            if ev.get("error"):
                lines.append(ev["error"]["message"] + "".join(ev["error"]["stack"]))
    return "\n".join(lines) or f"(no error events; log: {logs['__typename']})"


MATERIALIZATIONS = """
query($key: AssetKeyInput!, $partitions: [String!]) { assetOrError(assetKey: $key) { __typename
  ... on Asset { assetMaterializations(partitions: $partitions, limit: 10) { runId partition
    metadataEntries { label __typename ... on IntMetadataEntry { intValue } } } } } }
"""


def materializations(client: GraphQLClient, asset: str, partition: str) -> list[dict[str, Any]]:
    """Materialization events of ``asset`` for ``partition``, newest first."""
    res = client.execute(MATERIALIZATIONS, {"key": {"path": [asset]}, "partitions": [partition]})
    return _expect(res["assetOrError"], "Asset")["assetMaterializations"]


CHECK_EXECUTIONS = """
query($key: AssetKeyInput!, $check: String!, $partition: String) {
  assetCheckExecutions(assetKey: $key, checkName: $check, partition: $partition, limit: 10) {
    runId status partition evaluation { success severity } } }
"""


def check_executions(
    client: GraphQLClient, asset: str, check: str, partition: str | None = None
) -> list[dict[str, Any]]:
    """Executions of check ``check`` on ``asset``, newest first: of ``partition``, or of any partition if None."""
    res = client.execute(CHECK_EXECUTIONS, {"key": {"path": [asset]}, "check": check, "partition": partition})
    return res["assetCheckExecutions"]


ASSET_KEYS = "query { assetNodes { assetKey { path } } }"


def asset_names(client: GraphQLClient) -> list[str]:
    """Display names (last key component, as the graph shows them) of every asset in the workspace."""
    nodes = client.execute(ASSET_KEYS)["assetNodes"]
    return sorted(n["assetKey"]["path"][-1] for n in nodes)
