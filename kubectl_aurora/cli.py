"""`kubectl aurora`: see and steer Aurora's rollouts and training runs from kubectl.

    kubectl aurora get mld NAME [--watch]     the rollout as a tree, with every number behind it
    kubectl aurora get mltj NAME              a training run: version, metrics, gate, Job, pods
    kubectl aurora list [-A]                  every MLDeployment and MLTrainingJob
    kubectl aurora promote|abort|retry|rollback NAME
    kubectl aurora wait mld/NAME --for=stable|promoted|rolledback [--timeout=10m]

It talks to the Kubernetes API with the user's kubeconfig (no control API needed). Exit codes:
0 done; 1 refused, failed or timed out; 2 bad usage or no such object; for `wait`, 3 when the
rollout ended the other way (rolled back while waiting for promoted, or the reverse).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from datetime import UTC, datetime

import urllib3
import yaml
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from aurora_api import labels as label
from aurora_api.actions import Action
from aurora_api.resources import DEPLOYMENTS, GROUP, TRAINING_JOBS, VERSION
from aurora_api.times import parse_duration
from kubectl_aurora import actions, render

PLURALS = {
    "mld": DEPLOYMENTS,
    "mldeployment": DEPLOYMENTS,
    "mltj": TRAINING_JOBS,
    "mltrainingjob": TRAINING_JOBS,
}
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_OTHER_WAY = 0, 1, 2, 3


class Cluster:
    """The few API calls the plugin makes, with the user's kubeconfig and context."""

    def __init__(self, kubeconfig: str | None, context: str | None, namespace: str | None):
        api = config.new_client_from_config(config_file=kubeconfig, context=context)
        contexts, active = config.list_kube_config_contexts(config_file=kubeconfig)
        chosen = next((c for c in contexts if c["name"] == context), active) or {}
        self.namespace = namespace or chosen.get("context", {}).get("namespace") or "default"
        self.serialize = api.sanitize_for_serialization
        self.custom, self.core, self.batch = client.CustomObjectsApi(api), client.CoreV1Api(api), client.BatchV1Api(api)

    def get(self, plural: str, name: str) -> dict:
        return self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, plural, name)

    def list(self, plural: str, all_namespaces: bool) -> list[dict]:
        if all_namespaces:
            return self.custom.list_cluster_custom_object(GROUP, VERSION, plural)["items"]
        return self.custom.list_namespaced_custom_object(GROUP, VERSION, self.namespace, plural)["items"]

    def annotate(self, name: str, key: str, value: str) -> None:
        body = {"metadata": {"annotations": {key: value}}}
        self.custom.patch_namespaced_custom_object(GROUP, VERSION, self.namespace, DEPLOYMENTS, name, body)

    def changes(self, plural: str, name: str, seconds: int | None = None):
        """The object each time it changes (the watch API), first as it is now."""
        # With timeout_seconds the client ends the watch when the server closes it; without, it
        # watches again, which is what --watch wants.
        limit = {"timeout_seconds": seconds} if seconds is not None else {}
        stream = watch.Watch().stream(
            self.custom.list_namespaced_custom_object,
            GROUP,
            VERSION,
            self.namespace,
            plural,
            field_selector=f"metadata.name={name}",
            **limit,
        )
        for event in stream:
            if event["type"] in ("ADDED", "MODIFIED"):
                yield event["object"]

    def training_children(self, mltj: dict) -> tuple[dict | None, list[dict]]:
        job_name = (mltj.get("status") or {}).get("jobName")
        job = None
        if job_name:
            try:
                job = self.serialize(self.batch.read_namespaced_job(job_name, self.namespace))
            except ApiException as err:
                if err.status != 404:
                    raise
        selector = f"{label.RUN_UID}={mltj['metadata'].get('uid', '')}"
        pods = self.core.list_namespaced_pod(self.namespace, label_selector=selector)
        return job, self.serialize(pods)["items"]


def now() -> datetime:
    return datetime.now(UTC)


def emit(obj, output: str | None, lines: list[str]) -> None:
    if output == "json":
        print(json.dumps(obj, indent=2, sort_keys=True))
    elif output == "yaml":
        print(yaml.safe_dump(obj, sort_keys=False), end="")
    else:
        print("\n".join(lines))


def command_get(cluster: Cluster, args, paint: render.Paint) -> int:
    plural = PLURALS[args.kind]
    if plural == TRAINING_JOBS:
        mltj = cluster.get(plural, args.name)
        job, pods = cluster.training_children(mltj)
        emit(mltj, args.output, render.training_tree(mltj, job, pods, now(), paint))
        return EXIT_OK
    if not args.watch:
        mld = cluster.get(plural, args.name)
        emit(mld, args.output, render.deployment_tree(mld, now(), paint))
        return EXIT_OK
    cluster.get(plural, args.name)  # a missing object is an error, not an empty watch
    for mld in cluster.changes(plural, args.name):
        if paint.enabled:
            print("\033[H\033[J", end="")
        emit(mld, args.output, render.deployment_tree(mld, now(), paint) + [""])
        sys.stdout.flush()
    return EXIT_OK


def command_list(cluster: Cluster, args, paint: render.Paint) -> int:
    deployments = cluster.list(DEPLOYMENTS, args.all_namespaces)
    jobs = cluster.list(TRAINING_JOBS, args.all_namespaces)
    emit({DEPLOYMENTS: deployments, TRAINING_JOBS: jobs}, args.output, render.listing(deployments, jobs))
    return EXIT_OK


def command_action(cluster: Cluster, args, paint: render.Paint) -> int:
    mld = cluster.get(DEPLOYMENTS, args.name)
    refused = actions.refusal(args.command, mld, now())
    if refused:
        print(f"error: {refused}", file=sys.stderr)
        return EXIT_FAILED
    value = uuid.uuid4().hex
    annotation = Action(args.command).annotation
    cluster.annotate(args.name, annotation, value)
    print(f"mldeployment {actions.name_of(mld)}: {annotation}={value}")
    return EXIT_OK


def command_wait(cluster: Cluster, args, paint: render.Paint) -> int:
    kind, _, name = args.target.partition("/")
    if PLURALS.get(kind) != DEPLOYMENTS or not name:
        print("error: wait takes mld/NAME", file=sys.stderr)
        return EXIT_USAGE
    timeout = parse_duration(args.timeout)
    if timeout is None:
        print(f"error: --timeout {args.timeout!r} is not a duration like 90s or 10m", file=sys.stderr)
        return EXIT_USAGE
    cluster.get(DEPLOYMENTS, name)
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        for mld in cluster.changes(DEPLOYMENTS, name, seconds=max(1, int(left))):
            done, failure = actions.wait_outcome(args.goal, mld)
            if done or failure:
                status = mld.get("status") or {}
                word = "reached" if done else "cannot reach"
                said = f"{status.get('phase')} {failure or ''}".rstrip()
                print(f"mldeployment {actions.name_of(mld)} {word} {args.goal}: {said}")
                return EXIT_OK if done else EXIT_OTHER_WAY
            if time.monotonic() >= deadline:
                break
    print(f"error: timed out after {args.timeout} waiting for mld/{name} to be {args.goal}", file=sys.stderr)
    return EXIT_FAILED


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="kubectl aurora", description=__doc__.splitlines()[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-n", "--namespace")
    common.add_argument("--context")
    common.add_argument("--kubeconfig")
    common.add_argument("-o", "--output", choices=["json", "yaml"])
    sub = top.add_subparsers(dest="command", required=True)
    get = sub.add_parser("get", parents=[common], help="one MLDeployment or MLTrainingJob")
    get.add_argument("kind", choices=sorted(PLURALS))
    get.add_argument("name")
    get.add_argument("-w", "--watch", action="store_true", help="redraw on every change")
    listed = sub.add_parser("list", parents=[common], help="every MLDeployment and MLTrainingJob")
    listed.add_argument("-A", "--all-namespaces", action="store_true")
    for action in Action:
        act = sub.add_parser(action, parents=[common], help=f"set {action.annotation} on an MLDeployment")
        act.add_argument("name")
    wait = sub.add_parser("wait", parents=[common], help="block until a rollout is stable, promoted or rolled back")
    wait.add_argument("target", help="mld/NAME")
    wait.add_argument("--for", dest="goal", choices=actions.WAITS, required=True)
    wait.add_argument("--timeout", default="10m")
    return top


def api_message(err: ApiException) -> str:
    try:
        return json.loads(err.body).get("message") or str(err.reason)
    except (TypeError, ValueError, AttributeError):
        return str(err.reason)


COMMANDS = {"get": command_get, "list": command_list, "wait": command_wait}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    paint = render.Paint(sys.stdout.isatty() and args.output is None)
    try:
        cluster = Cluster(args.kubeconfig, args.context, args.namespace)
        return COMMANDS.get(args.command, command_action)(cluster, args, paint)
    except ApiException as err:
        print(f"error: {api_message(err)}", file=sys.stderr)
        return EXIT_USAGE if err.status == 404 else EXIT_FAILED
    except config.ConfigException as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except (OSError, urllib3.exceptions.HTTPError) as err:
        print(f"error: cannot reach the Kubernetes API: {err}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
