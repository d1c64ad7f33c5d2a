"""Deployment artifacts, each checked by the real tool that consumes it."""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any, get_args, get_type_hints
from urllib.parse import urlsplit

import aiohttp
import anyio
import bcrypt
import pytest
import trustme
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from sesd.commands.demo.localsqs import free_port
from sesd.config import (
    AlertmanagerConfig,
    HttpConfig,
    PagerDutyConfig,
    SlackConfig,
    parse_config,
    parse_web_config,
)
from sesd.config.alerts import RuleConfig
from sesd.config.values import Duration
from sesd.metrics.exposition import render
from sesd.runtime.health import Health
from sesd.runtime.http import http_server
from tests.conftest import require_tool
from tests.dns_server import hermetic_text

ROOT = Path(__file__).parent.parent
PROMETHEUS = ROOT / "config" / "prometheus"
KUBERNETES = ROOT / "config" / "kubernetes"
DASHBOARD = ROOT / "config" / "grafana" / "sesd-dashboard.json"


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, check=False, cwd=cwd, timeout=120
    )


def promtool_passes(tmp_path: Path, document: dict[str, Any]) -> None:
    """promtool's unit test ``document`` (input series, the queries and the samples each
    must give; the rules it loads, if any) passes, else the test fails with promtool's
    word on what each query gave."""
    (tmp_path / "panel.test.yml").write_text(yaml.safe_dump(document))
    result = run(require_tool("promtool"), "test", "rules", "panel.test.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def shipped_rules_give(
    tmp_path: Path, series: list[dict[str, str]], queries: list[dict[str, Any]]
) -> None:
    """With the shipped rules evaluated over ``series`` (scraped each minute), each of
    ``queries`` (an expression, its time, the samples it must give) gives them."""
    promtool_passes(
        tmp_path,
        {
            "rule_files": [str(PROMETHEUS / "sesd.rules.yml")],
            "evaluation_interval": "1m",
            "tests": [{"interval": "1m", "input_series": series, "promql_expr_test": queries}],
        },
    )


def test_prometheus_rules_check() -> None:
    """promtool accepts the fleet recording and alerting rules."""
    result = run(require_tool("promtool"), "check", "rules", PROMETHEUS / "sesd.rules.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_rule_unit_tests() -> None:
    """The rules' unit tests pass: fleet ratios summed over replicas, counter resets, the
    min-volume gate, and the alerts' labels and text; over hours of samples, the map of
    SES tenants gone stale; and, over days of samples,
    SesdNoEvents on a steady sender that stops and resumes, a daily send, a queue empty
    from the start; and three replicas sharing one cause (a deleted queue, the resolver,
    a backlog) make one alert, not three; two fleets in two namespaces, one Prometheus,
    keep their sums, alerts and replicas apart; a counter series first seen at 1 hides
    its first increment (why sesd exports them at 0). Every test file in the folder
    runs, so a new one is not left out."""
    files = sorted(path.name for path in PROMETHEUS.glob("*.test.yml"))
    expected = {
        "sesd.rules.test.yml",
        "sesd.rules.days.test.yml",
        "sesd.rules.hours.test.yml",
        "sesd.rules.replicas.test.yml",
        "sesd.rules.counters.test.yml",
        "sesd.rules.namespaces.test.yml",
    }
    assert expected <= set(files)
    result = run(require_tool("promtool"), "test", "rules", *files, cwd=PROMETHEUS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(files), result.stdout


def test_prometheus_example_config() -> None:
    """The example scrape configuration is valid and finds the rules."""
    result = run(
        require_tool("promtool"), "check", "config", "prometheus.example.yml", cwd=PROMETHEUS
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_example_scrape_of_a_locked_port(tmp_path: Path) -> None:
    """The example's commented-out HTTPS and basic auth keys, uncommented, are a valid
    scrape configuration."""
    lines = (PROMETHEUS / "prometheus.example.yml").read_text().splitlines()
    start = lines.index("    # scheme: https")
    text = "\n".join(lines[:start] + [line.replace("# ", "", 1) for line in lines[start:]])
    (tmp_path / "prometheus.yml").write_text(text + "\n")
    (tmp_path / "sesd.rules.yml").write_text((PROMETHEUS / "sesd.rules.yml").read_text())
    (job,) = yaml.safe_load(text)["scrape_configs"]
    assert job["scheme"] == "https"
    assert job["basic_auth"]["username"] == "prometheus"
    assert job["tls_config"]["ca_file"]
    result = run(require_tool("promtool"), "check", "config", "prometheus.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_alertmanager_config() -> None:
    """amtool accepts the Alertmanager routing to Slack and PagerDuty."""
    config = ROOT / "config" / "alertmanager" / "alertmanager.yml"
    result = run(require_tool("amtool"), "check-config", config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 receivers" in result.stdout


@pytest.mark.parametrize(
    ("severity", "receiver"),
    [
        ("critical", "pagerduty-and-slack"),
        ("error", "slack"),
        ("warning", "slack"),
        ("info", "slack"),
    ],
)
def test_alertmanager_routes_every_severity_sesd_gives(severity: str, receiver: str) -> None:
    """Each severity a rule may have (sesd's own rules too, posted to Alertmanager) goes
    where the config's header says: only critical pages."""
    config = ROOT / "config" / "alertmanager" / "alertmanager.yml"
    result = run(
        require_tool("amtool"),
        "config",
        "routes",
        "test",
        f"--config.file={config}",
        "alertname=delay-ratio-high",
        "domain=example.com",
        f"severity={severity}",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == [receiver]


def test_the_routes_tested_are_every_severity_a_rule_may_have() -> None:
    severities = get_args(get_type_hints(RuleConfig)["severity"])
    assert set(severities) == {"critical", "error", "warning", "info"}


def test_dockerfile_is_hadolint_clean() -> None:
    """hadolint finds nothing at warning level; the image is non-root with a health check."""
    result = run(require_tool("hadolint"), "--failure-threshold", "warning", ROOT / "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr
    text = (ROOT / "Dockerfile").read_text()
    assert text.count("\nFROM ") == 2  # a build stage and the final stage
    assert "USER 10001" in text
    assert "HEALTHCHECK" in text
    assert "/healthz" in text
    assert "STOPSIGNAL SIGTERM" in text
    # Plain Python: no compiler in any stage; the build checks the command runs.
    assert "gcc" not in text
    assert "sesd --version" in text
    # Scrapable as it is: it listens on every interface unless told otherwise.
    assert "SESD_HTTP_LISTEN=0.0.0.0:9585" in text
    # Both stages from one base image, pinned by digest.
    assert re.search(r"ARG PYTHON_IMAGE=python:[\w.-]+@sha256:[0-9a-f]{64}\n", text)
    assert text.count("FROM ${PYTHON_IMAGE}") == 2
    for label in ("title", "description", "version", "revision", "licenses", "base.name"):
        assert f"org.opencontainers.image.{label}=" in text, label


def test_the_image_and_the_manifests_carry_the_version_sesd_reports() -> None:
    """The version is written once (sesd.__version__, which pyproject reads); the
    image's label default and the manifests' image tag must say the same, or an
    image labelled one version runs another."""
    from sesd import __version__

    assert f"ARG SESD_VERSION={__version__}\n" in (ROOT / "Dockerfile").read_text()
    tags = [
        tag
        for manifest in sorted((ROOT / "config").glob("kubernetes*/*.yaml"))
        for tag in re.findall(r"image: ghcr\.io/example/sesd:(\S+)", manifest.read_text())
    ]
    assert tags
    assert set(tags) == {__version__}


def _health_checks(tmp_path: Path, http: str, *checks: dict[str, str]) -> list[int]:
    """The image's HEALTHCHECK command, run as Docker would with the image's environment
    (and each of ``checks`` in turn), against one sesd that SESD_HTTP_LISTEN put on
    another port than its config's; their exit statuses. One sesd for every check: its
    start took most of a check's time, and a check leaves nothing behind in it (each
    is a process of its own, with a connection of its own)."""
    text = (ROOT / "Dockerfile").read_text()
    command = json.loads(text.split("CMD [", 1)[1].split("\n", 1)[0].join(["[", ""]))
    assert command[:2] == ["python", "-c"]
    image = dict(re.findall(r"^\s+(SESD_HEALTHCHECK_\w+)=(\S+)", text, re.M))
    port = free_port()
    config = tmp_path / "sesd.toml"
    config.write_text(
        hermetic_text(
            '[[queues]]\nurl = "http://127.0.0.1:9/q"\n[http]\nlisten = "127.0.0.1:1"\n' + http
        )
    )
    env = {**os.environ, **image, "SESD_HTTP_LISTEN": f"127.0.0.1:{port}"}
    env |= {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    with subprocess.Popen(
        [sys.executable, "-m", "sesd", "run", "--config", str(config)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    ) as sesd:
        try:
            assert sesd.stderr is not None
            for line in sesd.stderr:  # until it listens (a log line, not a sleep)
                if "sesd.http.listening" in line:
                    assert f'"port": {port}' in line
                    break
            return [
                subprocess.run(
                    [sys.executable, *command[1:]],
                    env={**env, **check},
                    capture_output=True,
                    timeout=30,
                    check=False,
                ).returncode
                for check in checks
            ]
        finally:
            sesd.terminate()
            sesd.communicate(timeout=30)


def test_the_images_health_check_follows_the_listen_address(tmp_path: Path) -> None:
    """The HEALTHCHECK command gets 200 from a sesd on the port SESD_HTTP_LISTEN says."""
    assert _health_checks(tmp_path, "", {}) == [0]


def test_the_images_health_check_passes_a_locked_port(tmp_path: Path) -> None:
    """Behind basic auth and TLS (config/web.example.yml), the check passes with no
    password (a 401 is sesd answering) once told the scheme, and fails without it."""
    web = tmp_path / "web.yml"
    web.write_text((ROOT / "config" / "web.example.yml").read_text())
    leaf = trustme.CA().issue_cert("sesd.example")
    leaf.cert_chain_pems[0].write_to_path(str(tmp_path / "tls.crt"))
    leaf.private_key_pem.write_to_path(str(tmp_path / "tls.key"))
    http = f'web_config = "{web}"\n'
    told, untold = _health_checks(tmp_path, http, {"SESD_HEALTHCHECK_SCHEME": "https"}, {})
    assert told == 0
    assert untold != 0


def test_the_images_health_check_presents_a_client_certificate_when_given(
    tmp_path: Path,
) -> None:
    """With client certificates required, a check without one is refused (the port is
    sesd's, alive): given SESD_HEALTHCHECK_CERT and _KEY, it presents them and passes."""
    ca = trustme.CA()
    leaf = ca.issue_cert("sesd.example")
    leaf.cert_chain_pems[0].write_to_path(str(tmp_path / "tls.crt"))
    leaf.private_key_pem.write_to_path(str(tmp_path / "tls.key"))
    ca.cert_pem.write_to_path(str(tmp_path / "client-ca.crt"))
    probe = ca.issue_cert("probe.sesd.example")
    probe.cert_chain_pems[0].write_to_path(str(tmp_path / "probe.crt"))
    probe.private_key_pem.write_to_path(str(tmp_path / "probe.key"))
    web = tmp_path / "web.yml"
    web.write_text(
        (ROOT / "config" / "web.example.yml")
        .read_text()
        .replace("# client_auth_type:", "client_auth_type:")
        .replace("# client_ca_file:", "client_ca_file:")
    )
    http = f'web_config = "{web}"\n'
    tls = {"SESD_HEALTHCHECK_SCHEME": "https"}
    client = {"SESD_HEALTHCHECK_CERT": str(tmp_path / "probe.crt")}
    client["SESD_HEALTHCHECK_KEY"] = str(tmp_path / "probe.key")
    without, given = _health_checks(tmp_path, http, tls, {**tls, **client})
    assert without != 0
    assert given == 0


def _merge(base: Any, patch: Any) -> Any:
    """A strategic merge patch as kustomize applies the ones sesd ships: maps merge
    key by key, ``null`` removes a key, lists of named maps merge by name."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            elif key in merged:
                merged[key] = _merge(merged[key], value)
            else:
                merged[key] = value
        return merged
    if isinstance(base, list) and isinstance(patch, list) and all("name" in p for p in patch):
        by_name = {item["name"]: item for item in base}
        out = [
            _merge(item, next((p for p in patch if p["name"] == item["name"]), {})) for item in base
        ]
        return out + [p for p in patch if p["name"] not in by_name]
    return patch


def _kustomize(directory: Path) -> list[dict[str, Any]]:
    """What ``kubectl kustomize`` renders for sesd's two kustomizations (resources,
    patches, a ConfigMap from files; the hash suffix left out)."""
    spec = yaml.safe_load((directory / "kustomization.yaml").read_text())
    documents: list[dict[str, Any]] = []
    for resource in spec.get("resources", []):
        path = directory / resource
        if path.is_dir():
            documents += _kustomize(path)
        else:
            documents.append(yaml.safe_load(path.read_text()))
    for generator in spec.get("configMapGenerator", []):
        data = {name: (directory / name).read_text() for name in generator["files"]}
        documents = [
            d
            for d in documents
            if not (d["kind"] == "ConfigMap" and d["metadata"]["name"] == generator["name"])
        ]
        documents.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": generator["name"]},
                "data": data,
            }
        )
    for patch_spec in spec.get("patches", []):
        patch = yaml.safe_load((directory / patch_spec["path"]).read_text())
        key = (patch["kind"], patch["metadata"]["name"])
        found = [d for d in documents if (d["kind"], d["metadata"]["name"]) == key]
        assert found, f"{patch_spec['path']} patches nothing"
        documents.remove(found[0])
        if patch.pop("$patch", None) != "delete":
            documents.append(_merge(found[0], patch))
    return documents


def _manifests(directory: Path = KUBERNETES) -> dict[str, dict[str, Any]]:
    return {document["kind"]: document for document in _kustomize(directory)}


#: Every kustomization shipped.
_SETUPS_ALL = ["kubernetes", "kubernetes-fleet", "kubernetes-fleet-stateful", "kubernetes-secured"]
#: Kinds of the Prometheus Operator: no schema in kubernetes-validate; checked below.
_CRDS = ("PodMonitor", "PrometheusRule")


@pytest.mark.parametrize(
    "directory",
    ["kubernetes", "kubernetes-fleet", "kubernetes-fleet-stateful", "kubernetes-secured"],
)
def test_kubernetes_manifests_validate(tmp_path: Path, directory: str) -> None:
    """Every manifest, as the kustomization renders it (the fleet overlay's patches
    applied), validates strictly against the Kubernetes schemas."""
    tool = require_tool("kubernetes-validate")
    rendered = [d for d in _kustomize(ROOT / "config" / directory) if d["kind"] not in _CRDS]
    paths = []
    for i, document in enumerate(rendered):
        path = tmp_path / f"{i}-{document['kind'].lower()}.yaml"
        path.write_text(yaml.safe_dump(document))
        paths.append(path)
    result = run(tool, "--strict", *paths)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("passed") == len(paths), result.stdout


def test_kubernetes_manifests_agree_with_each_other() -> None:
    """Probes, grace period, security context, selectors, ports and the embedded config fit
    together (checks the schema validator cannot make, and the CRDs' shapes)."""
    kinds = _manifests()
    deployment, service = kinds["Deployment"], kinds["Service"]
    pod = deployment["spec"]["template"]
    container = pod["spec"]["containers"][0]
    config = parse_config(kinds["ConfigMap"]["data"]["sesd.toml"])
    assert config.http.listen == "0.0.0.0:9585"
    # The whole stop fits: the grace period, the last state save and the exit.
    longest = config.shutdown.longest_stop(saves=config.state.path is not None)
    assert pod["spec"]["terminationGracePeriodSeconds"] >= longest
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    # One timeout for every probe: a start is not judged by a stricter one.
    probes = ("startupProbe", "livenessProbe", "readinessProbe")
    assert {container[probe].get("timeoutSeconds") for probe in probes} == {3}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["resources"]["requests"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    state = volumes[mounts[str(Path(config.state.path or "").parent)]]
    # One replica, its state on a claim that outlives the pod; Recreate frees it first.
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    assert (
        state["persistentVolumeClaim"]["claimName"]
        == kinds["PersistentVolumeClaim"]["metadata"]["name"]
    )
    assert volumes["config"]["configMap"]["name"] == kinds["ConfigMap"]["metadata"]["name"]
    labels = pod["metadata"]["labels"]
    port = container["ports"][0]
    assert port["containerPort"] == config.http.port
    assert service["spec"]["selector"].items() <= labels.items()
    monitor = kinds["PodMonitor"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert monitor["spec"]["podMetricsEndpoints"][0]["port"] == port["name"]
    budget = kinds["PodDisruptionBudget"]["spec"]
    assert budget["selector"]["matchLabels"].items() <= labels.items()
    # An SQS or IAM outage makes every pod unready: drains must not block on it.
    assert budget["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    assert budget["maxUnavailable"] == 1
    listed = set(yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in KUBERNETES.glob("*.yaml")} - {
        "kustomization.yaml",
        "secret.example.yaml",
    }


#: kubectl's verbs that act on an object of a namespace (not `apply -k`, whose
#: kustomization names it, nor `create namespace`).
_NAMESPACED_VERBS = frozenset(
    "annotate cp create delete describe edit exec get label logs patch port-forward "  # noqa: SIM905
    "rollout scale".split()
)


def _kubectl_commands(text: str) -> list[list[str]]:
    """kubectl's own arguments (up to ``--`` or a pipe) in each kubectl command a text
    gives, its wrapped lines and comment marks joined."""
    words = " ".join(line.strip().lstrip("#") for line in text.splitlines()).split()
    commands = []
    for i, word in enumerate(words):
        if word.strip("`(") != "kubectl":
            continue
        arguments = []
        for argument in words[i + 1 :]:
            if argument in ("--", "|", "kubectl") or argument.startswith("#"):
                break
            arguments.append(argument.strip("`'\",.);:"))
            if "`" in argument or argument.endswith((")", ",", ";")):
                break
        commands.append(arguments)
    return commands


def test_every_kubectl_command_shown_names_sesds_namespace() -> None:
    """Everything the kustomizations make is in the namespace sesd, and kubectl acts
    on the context's namespace (default) unless told: a command shown without
    `-n sesd` answers "not found" to an SRE who runs it as written."""
    shown = [README, ROOT / "RELIABILITY.md", ROOT / "TESTING.md", ROOT / "Dockerfile"]
    shown += [p for p in (ROOT / "config").rglob("*") if p.is_file()]
    shown += list((ROOT / "systemd").iterdir())
    wrong, found = [], 0
    for path in shown:
        for arguments in _kubectl_commands(path.read_text()):
            pairs = list(itertools.pairwise(arguments))
            given = {value for flag, value in pairs if flag in ("-n", "--namespace")}
            given |= {a.partition("=")[2] for a in arguments if a.startswith("--namespace=")}
            verbs = [a for a in arguments if not a.startswith("-") and a not in given]
            if not verbs or verbs[0] not in _NAMESPACED_VERBS or verbs[1:2] == ["namespace"]:
                continue
            found += 1
            if given != {"sesd"}:
                wrong.append(f"{path.relative_to(ROOT)}: kubectl {' '.join(arguments)}")
    assert not wrong, wrong
    assert found >= 5


def test_every_move_between_kustomizations_says_what_to_delete() -> None:
    """`kubectl apply -k` makes and changes objects, never deletes one. Moving from one
    shipped kustomization to another (one replica to the fleet, the fleet to its
    StatefulSet) leaves what the new one does not make running beside it: the base's
    PrometheusRule, whose SesdDelayRatioHigh pages each incident a second time beside
    the replicas' own rule, or the fleet's Deployment, three more replicas beside the
    StatefulSet's. README gives the delete of each such object."""
    made = {
        setup: {
            (document["kind"].lower(), document["metadata"]["name"])
            for document in _kustomize(ROOT / "config" / setup)
            # Named by their content's hash: an old one is left by every change alike.
            if document["kind"] != "ConfigMap"
        }
        for setup in _SETUPS_ALL
    }
    left = set().union(*(made[old] - made[new] for old in _SETUPS_ALL for new in _SETUPS_ALL))
    deletes = set()
    for arguments in _kubectl_commands(README.read_text()):
        if arguments[:3] == ["-n", "sesd", "delete"] and len(arguments) >= 5:
            deletes.add((arguments[3], arguments[4]))
    assert left, made
    assert left <= deletes, sorted(left - deletes)


@pytest.mark.parametrize("directory", _SETUPS_ALL)
def test_the_service_reaches_pods_that_cannot_read_their_queues(directory: str) -> None:
    """/readyz is 503 while a queue cannot be read: in an SQS or IAM outage every pod
    is unready. The Service is how people reach the status page and `sesd status`
    (and anything scraping through it /metrics), which say what is wrong: it keeps
    unready pods among its endpoints, rather than go dark for the whole outage. The
    readiness probe still shows in `kubectl get pods` (the fleet's asks /healthz:
    test_a_fleet_rollout_goes_on_while_no_pod_can_read_its_queues)."""
    service = _manifests(ROOT / "config" / directory)["Service"]
    assert service["spec"]["publishNotReadyAddresses"] is True


@pytest.mark.parametrize(
    ("directory", "kind"),
    [("kubernetes-fleet", "Deployment"), ("kubernetes-fleet-stateful", "StatefulSet")],
)
async def test_a_fleet_rollout_goes_on_while_no_pod_can_read_its_queues(
    directory: str, kind: str
) -> None:
    """An SQS or IAM outage: every replica's receives fail, and a pod a rollout starts
    has read nothing yet. A rolling update stops an old pod only once its successor is
    ready (the Deployment's maxUnavailable 0; the StatefulSet pod by pod): were the
    fleet's readiness the queues' (/readyz), no successor would be, and a fix rolled
    out during the outage would never get past its first pod, though the old pods read
    nothing either. The probe asks whether the pod has started (state restored, port
    bound), which it answers then; /readyz, the status page and SesdQueueUnread still
    say the queue is not read."""
    workload = _manifests(ROOT / "config" / directory)[kind]
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    probe = container["readinessProbe"]["httpGet"]
    health = Health(["q"], polled_since={"q": 0.0}, failing={"q"})
    served = http_server(HttpConfig("127.0.0.1:0"), CollectorRegistry(), health, lambda: 90.0)
    with anyio.fail_after(30):
        async with served as port, aiohttp.ClientSession() as session:
            base = f"http://127.0.0.1:{port}"
            async with session.get(base + probe["path"]) as probed:
                readiness = probed.status
            async with session.get(base + "/readyz") as queues:
                said = queues.status, await queues.text()
    assert readiness == 200
    assert said[0] == 503
    assert "q" in said[1]


def test_the_stateful_fleet_keeps_each_replicas_state_on_its_own_claim() -> None:
    """config/kubernetes-fleet-stateful runs the fleet's pods as a StatefulSet, each
    with its state file on a ReadWriteOnce claim of its own, so a rolled pod restores
    its windows (the fleet overlay's emptyDir starts them empty): its pod template is
    the fleet Deployment's but for the state volume, and the selectors, the Service
    and the PodDisruptionBudget still find its pods."""
    fleet = _manifests(ROOT / "config" / "kubernetes-fleet")
    stateful = _manifests(ROOT / "config" / "kubernetes-fleet-stateful")
    assert "Deployment" not in stateful  # replaced, not run beside it
    deployment, workload = fleet["Deployment"], stateful["StatefulSet"]
    config = parse_config(stateful["ConfigMap"]["data"]["sesd.toml"])
    template = workload["spec"]["template"]
    (container,) = template["spec"]["containers"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    state = mounts[str(Path(config.state.path or "").parent)]
    (claim,) = workload["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == state
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert state not in {v["name"] for v in template["spec"]["volumes"]}
    # The same pod otherwise: a change to the fleet's is made to both.
    expected = json.loads(json.dumps(deployment["spec"]["template"]))
    expected["spec"]["volumes"] = [v for v in expected["spec"]["volumes"] if v["name"] != state]
    assert template == expected
    assert workload["spec"]["replicas"] == deployment["spec"]["replicas"]
    assert workload["spec"]["updateStrategy"]["type"] == "RollingUpdate"
    assert workload["spec"]["serviceName"] == stateful["Service"]["metadata"]["name"]
    labels = template["metadata"]["labels"]
    assert workload["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert stateful["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= (
        labels.items()
    )
    namespace = yaml.safe_load((ROOT / "config" / "kubernetes-fleet-stateful" /
                                "kustomization.yaml").read_text())["namespace"]  # fmt: skip
    assert namespace == "sesd"


def test_the_fleets_tenant_polls_together_stay_within_what_ses_allows() -> None:
    """Each replica with [tenants] walks SES's tenants at its own calls_per_second: the
    fleet overlay's sesd.toml shows the pace for its replicas (its commented-out block,
    uncommented, is a valid config) at about one call a second for the fleet, what SES
    allows an account's read calls."""
    fleet = _manifests(ROOT / "config" / "kubernetes-fleet")
    text = fleet["ConfigMap"]["data"]["sesd.toml"]
    block = "# [tenants]\n# enabled = true\n# calls_per_second = "
    assert block in text
    config = parse_config(text.replace(block, block.replace("# ", "")))
    assert config.tenants.enabled
    replicas = fleet["Deployment"]["spec"]["replicas"]
    assert 0.8 <= config.tenants.calls_per_second * replicas <= 1.0


def test_the_pod_monitor_names_the_job_as_the_rules_do() -> None:
    """The Operator names a PodMonitor's job "namespace/name" unless its jobLabel names
    a pod label: SesdDown and SesdAbsent match job="sesd", the pods' label value."""
    kinds = _manifests()
    label = kinds["PodMonitor"]["spec"]["jobLabel"]
    pod_labels = kinds["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert pod_labels[label] == "sesd"
    rules = (PROMETHEUS / "sesd.rules.yml").read_text()
    assert 'up{job="sesd"} == 0' in rules
    assert 'absent(up{job="sesd"} == 1)' in rules


def test_the_prometheus_rule_is_the_fleet_rules_file() -> None:
    """The PrometheusRule holds exactly the groups promtool checks in sesd.rules.yml."""
    rule = _manifests()["PrometheusRule"]
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    expected = yaml.safe_load((PROMETHEUS / "sesd.rules.yml").read_text())["groups"]
    assert rule["spec"]["groups"] == expected


def test_the_fleet_notifies_each_incident_once() -> None:
    """The fleet's replicas post their built-in alerts to Alertmanager, so its
    PrometheusRule leaves out each alert a built-in rule repeats (same metric, window,
    threshold and wait) and nothing else, and the critical alert holds back the
    built-in warning as it does the fleet rule's: in the same fleet only, which the
    built-in alert names by the namespace Prometheus gives the fleet rules' alerts."""
    fleet = ROOT / "config" / "kubernetes-fleet"
    rendered = [d for d in _kustomize(fleet) if d["kind"] == "PrometheusRule"]
    (rule,) = rendered  # the base's is replaced, not kept beside it
    # kustomize sets a kustomization's namespace on its own resources only: the rule
    # this overlay adds needs the base's, or it lands in the current context's.
    namespaces = [yaml.safe_load((d / "kustomization.yaml").read_text()).get("namespace")
                  for d in (KUBERNETES, fleet)]  # fmt: skip
    assert namespaces == ["sesd", "sesd"]
    groups = yaml.safe_load((PROMETHEUS / "sesd.rules.yml").read_text())["groups"]
    kept = {r.get("alert") for g in rule["spec"]["groups"] for r in g["rules"]}
    left_out = {r["alert"]: r for g in groups for r in g["rules"] if r.get("alert") not in kept}
    assert set(left_out) == {"SesdDelayRatioHigh"}
    remaining = [
        {**g, "rules": [r for r in g["rules"] if r.get("alert") not in left_out]} for g in groups
    ]
    assert rule["spec"]["groups"] == remaining
    config = parse_config(_manifests(fleet)["ConfigMap"]["data"]["sesd.toml"])
    built_in = {r.name: r for r in config.alerts.rules}
    inhibit = yaml.safe_load((ROOT / "config" / "alertmanager" / "alertmanager.yml").read_text())
    for name, alert in left_out.items():
        metric, window, above = re.match(  # type: ignore[union-attr]
            r"sesd:(\w+):(\w+) > ([\d.]+) ", alert["expr"]
        ).groups()
        (twin,) = [
            r
            for r in built_in.values()
            if (r.metric, r.window, r.above) == (metric, window, float(above))
        ]
        assert twin.sinks == ["alertmanager"], name
        assert twin.for_.seconds == Duration(alert["for"]).seconds, name
        assert twin.labels == {"namespace": namespaces[1]}, name
        held_back = [
            i
            for i in inhibit["inhibit_rules"]
            if any(
                re.fullmatch(m.split("=~", 1)[1].strip('"'), twin.name)
                for m in i["target_matchers"]
                if m.startswith("alertname=~")
            )
            and any(name in m for m in i["target_matchers"])
        ]
        assert held_back, f"{twin.name} is not held back where {name} is"
        assert all(i["equal"] == ["namespace", "domain"] for i in held_back), name


def test_the_fleet_overlay_spreads_replicas_that_alert_through_alertmanager() -> None:
    kinds = _manifests(ROOT / "config" / "kubernetes-fleet")
    deployment = kinds["Deployment"]
    assert deployment["spec"]["replicas"] > 1
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
    }
    pod = deployment["spec"]["template"]["spec"]
    assert pod["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "sesd"
    }
    assert pod["affinity"]["podAntiAffinity"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["state"] == {"name": "state", "emptyDir": {}}
    assert "PersistentVolumeClaim" not in kinds
    config = parse_config(kinds["ConfigMap"]["data"]["sesd.toml"])
    sink = config.alerts.sinks["alertmanager"]
    assert isinstance(sink, AlertmanagerConfig)
    assert all(rule.sinks == ["alertmanager"] for rule in config.alerts.rules)
    # Each member by its own name: members do not gossip alerts, so a post through
    # the Service's one name would reach one of them.
    hosts = [urlsplit(url).hostname or "" for url in sink.urls]
    assert len(hosts) > 1
    assert len(set(hosts)) == len(hosts)
    assert all(host.split(".")[0].rsplit("-", 1)[1].isdigit() for host in hosts), hosts


def test_the_secured_overlay_locks_the_port_and_presents_credentials() -> None:
    """config/kubernetes-secured: the base's config with web_config, naming a file the
    Deployment mounts read-only from Secrets, beside the certificate and key it names
    (config/web.example.yml is that file); probes over HTTPS with a user the file
    knows; the PodMonitor over HTTPS, checking the certificate, with basic auth."""
    directory = ROOT / "config" / "kubernetes-secured"
    kinds = _manifests(directory)
    config = parse_config(kinds["ConfigMap"]["data"]["sesd.toml"])
    base = parse_config((KUBERNETES / "sesd.toml").read_text())
    assert config.http.web_config is not None
    shown, expected = config.to_display(), base.to_display()
    assert shown["http"].pop("web_config") == "/etc/sesd-web/web.yml"
    assert expected["http"].pop("web_config") is None
    assert shown == expected
    pod = kinds["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["web"] == {"name": "web", "mountPath": "/etc/sesd-web", "readOnly": True}
    assert mounts["config"]["mountPath"] == "/etc/sesd"  # the base's, kept
    volumes = {v["name"]: v for v in pod["volumes"]}
    projected = {
        item["path"]: (source["secret"]["name"], item["key"])
        for source in volumes["web"]["projected"]["sources"]
        for item in source["secret"]["items"]
    }
    web = parse_web_config((ROOT / "config" / "web.example.yml").read_text(), "/etc/sesd-web")
    tls = web.tls_server_config
    assert tls is not None
    assert projected == {
        "web.yml": ("sesd-web", "web.yml"),
        Path(tls.cert_file).name: ("sesd-tls", "tls.crt"),
        Path(tls.key_file).name: ("sesd-tls", "tls.key"),
    }
    assert {str(Path(tls.cert_file).parent), str(Path(tls.key_file).parent)} == {"/etc/sesd-web"}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        get = container[probe]["httpGet"]
        assert get["scheme"] == "HTTPS", probe
        assert get["path"] in ("/healthz", "/readyz")
        ((header,),) = [get["httpHeaders"]]
        assert header["name"] == "Authorization"
        user, _, password = base64.b64decode(header["value"].split()[1]).partition(b":")
        assert bcrypt.checkpw(password, web.basic_auth_users[user.decode()].encode()), probe
    (endpoint,) = kinds["PodMonitor"]["spec"]["podMetricsEndpoints"]
    assert (endpoint["scheme"], endpoint["port"], endpoint["path"]) == (
        "https",
        "metrics",
        "/metrics",
    )
    assert endpoint["tlsConfig"]["ca"]["secret"] == {"name": "sesd-tls", "key": "ca.crt"}
    assert endpoint["basicAuth"]["password"] == {"name": "sesd-scrape", "key": "password"}
    scrape = yaml.safe_load((directory / "secret.example.yaml").read_text())["stringData"]
    hashed = web.basic_auth_users[scrape["username"]].encode()
    assert bcrypt.checkpw(scrape["password"].encode(), hashed)


_SETUPS = ["kubernetes", "kubernetes-fleet", "kubernetes-secured"]


@pytest.mark.parametrize("directory", _SETUPS)
def test_the_sinks_secrets_reach_sesd_as_read_only_files(directory: str) -> None:
    """No container takes a Secret as an environment variable (every child process
    inherits one, a dump of the environment shows it, a pod keeps it until it
    restarts): the Secret sesd-alerting is a volume, mounted read-only, readable by
    sesd's group alone, optional (a config without Slack or PagerDuty needs none)."""
    kinds = _manifests(ROOT / "config" / directory)
    pod = kinds["Deployment"]["spec"]["template"]["spec"]
    for container in pod["containers"] + pod.get("initContainers", []):
        for variable in container.get("env", []):
            assert "secretKeyRef" not in variable.get("valueFrom", {}), variable["name"]
        assert not [s for s in container.get("envFrom", []) if "secretRef" in s]
    (mount,) = _alerting_mounts(pod)
    assert mount["readOnly"] is True
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])["secret"]
    assert volume["optional"] is True
    assert "items" not in volume  # every key of the Secret, a file named by its key
    assert volume["defaultMode"] & 0o077 == 0o040
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsUser"]


def _alerting_mounts(pod: dict[str, Any]) -> list[dict[str, Any]]:
    """The container's mounts of the Secret sesd-alerting (secret.example.yaml)."""
    name = yaml.safe_load((KUBERNETES / "secret.example.yaml").read_text())["metadata"]["name"]
    volumes = {v["name"]: v.get("secret", {}).get("secretName") for v in pod["volumes"]}
    (container,) = pod["containers"]
    return [m for m in container["volumeMounts"] if volumes[m["name"]] == name]


@pytest.mark.parametrize("directory", ["kubernetes", "kubernetes-secured"])
def test_the_configs_sinks_read_the_secrets_files(tmp_path: Path, directory: str) -> None:
    """The Slack and PagerDuty sinks the config's comment shows, uncommented and added
    to its rule, read each key of secret.example.yaml from the file the Deployment's
    mount gives it (the Secret's files written where the kubelet would put them)."""
    kinds = _manifests(ROOT / "config" / directory)
    (mount,) = _alerting_mounts(kinds["Deployment"]["spec"]["template"]["spec"])
    secret = yaml.safe_load((KUBERNETES / "secret.example.yaml").read_text())["stringData"]
    for key, value in secret.items():
        (tmp_path / key).write_text(value + "\n")
    text = kinds["ConfigMap"]["data"]["sesd.toml"]
    start = text.index("#   [alerts.sinks.")
    sinks = text[start : text.index("\n# and sinks", start)].replace("#   ", "").replace("#", "")
    rules = text[text.index("[[alerts.rules]]") :].replace(
        'sinks = ["console"]', 'sinks = ["slack", "pagerduty"]'
    )
    sinks = sinks.replace(mount["mountPath"] + "/", f"{tmp_path}/")
    config = parse_config(text[: text.index("[[alerts.rules]]")] + sinks + "\n" + rules)
    for _, reference in config.secrets():  # as read_secrets reads them (it reads web.yml too)
        reference.resolve()
    slack, pagerduty = config.alerts.sinks["slack"], config.alerts.sinks["pagerduty"]
    assert isinstance(slack, SlackConfig)
    assert isinstance(pagerduty, PagerDutyConfig)
    read = {"slack-webhook-url": slack.webhook_url, "pagerduty-routing-key": pagerduty.routing_key}
    assert {key: value.get() for key, value in read.items()} == secret
    assert {value.reference.rpartition("/")[0] for value in read.values()} == {f"file:{tmp_path}"}


def _openings(rules: list[dict[str, Any]]) -> set[tuple[int | str, str]]:
    """(port, protocol) each rule of a NetworkPolicy direction lets through."""
    found: set[tuple[int | str, str]] = set()
    for rule in rules:
        # A rule without ports opens every port; a range (endPort) opens many.
        assert rule.get("ports"), rule
        for port in rule["ports"]:
            assert "endPort" not in port, port
            found.add((port["port"], port.get("protocol", "TCP")))
    return found


@pytest.mark.parametrize("directory", _SETUPS)
def test_the_network_policy_lets_through_what_sesd_uses_and_nothing_else(
    directory: str,
) -> None:
    """The NetworkPolicy selects sesd's pods and closes both directions (a policy that
    does not list Egress leaves it open). In: sesd's HTTP port alone (the scrapes,
    the status page, the probes). Out: DNS (UDP and TCP 53), HTTPS (443: AWS, Slack,
    PagerDuty), and the port of each other place the config sends to (the fleet's
    Alertmanager); nothing else."""
    kinds = _manifests(ROOT / "config" / directory)
    policy = kinds["NetworkPolicy"]["spec"]
    template = kinds["Deployment"]["spec"]["template"]
    assert policy["podSelector"]["matchLabels"].items() <= template["metadata"]["labels"].items()
    assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
    (container,) = template["spec"]["containers"]
    named = {port["name"]: port["containerPort"] for port in container["ports"]}
    config = parse_config(kinds["ConfigMap"]["data"]["sesd.toml"])
    opened = {(named.get(str(port), port), kind) for port, kind in _openings(policy["ingress"])}
    assert opened == {(config.http.port, "TCP")}
    urls = [queue.url for queue in config.queues] + [
        url
        for sink in config.alerts.sinks.values()
        if isinstance(sink, AlertmanagerConfig)
        for url in sink.urls
    ]
    reached = {
        (split.port or {"https": 443, "http": 80}[split.scheme], "TCP")
        for split in map(urlsplit, urls)
    }
    assert _openings(policy["egress"]) == {(53, "UDP"), (53, "TCP"), (443, "TCP")} | reached


def test_dashboard_covers_what_operators_need() -> None:
    """The dashboard imports as JSON, has domain, provider and tenant variables, and panels
    for delays, types, causes, providers, tenants (delays, bounces, suppressed recipients,
    paused by SES, high reputation impact), processing time, pending delays, lag, queue
    health, alerts and notifications (sent and lost, and waiting in the outboxes)."""
    dashboard = json.loads(DASHBOARD.read_text())
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["domain"]["includeAll"] is True
    assert variables["provider"]["includeAll"] is True
    assert "sesd_provider_recipient_events_total" in variables["provider"]["definition"]
    assert variables["tenant"]["includeAll"] is True
    assert variables["tenant"]["multi"] is True
    assert variables["namespace"]["includeAll"] is True
    assert variables["namespace"]["allValue"] == ".*"  # a target without a namespace too
    assert "sesd_tenant_recipient_events_total" in variables["tenant"]["definition"]
    # A fleet picked, the domains, providers and tenants offered are that fleet's: not
    # another fleet's, which would draw empty panels.
    for name in ("domain", "provider", "tenant"):
        assert '{namespace=~"$namespace"}, ' in variables[name]["definition"], name
    # Grafana runs a variable's query and shows its definition: the checks read the
    # definition, so the two must be the same text.
    for variable in variables.values():
        if variable["type"] == "query":
            assert variable["query"]["query"] == variable["definition"], variable["name"]
    assert "datasource" in variables
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p.get("targets", []))
    for metric in (
        "sesd_recipient_events_total",
        "sesd_delivery_delays_total",
        "sesd_delivery_processing_seconds_bucket",
        "sesd_delayed_recipients_pending",
        "sesd_event_lag_seconds_bucket",
        "sesd_messages_total",
        "sesd_pending_delays_overflow_total",
        "sesd_sqs_errors_total",
        "sesd_alerts_firing",
        "sesd_notifications_total",
        "sesd_notifications_waiting",
        "sesd:delay_ratio:15m",
        "sesd_canary_send_seconds",
        "sesd_canary_ses_processing_seconds",
        "sesd_canary_event_pipeline_seconds",
        "sesd_canary_end_to_end_seconds",
        "sesd_canary_missing",
        "sesd_canary_send_errors_total",
        "sesd_provider_recipient_events_total",
        "sesd_provider_delivery_delays_total",
        "sesd_provider_window_delay_ratio",
        "sesd_provider_delayed_recipients_pending",
        "sesd_dns_lookups_total",
        "sesd_ses_reputation_bounce_ratio",
        "sesd_ses_reputation_complaint_ratio",
        "sesd_ses_sending_enabled",
        "sesd_ses_enforcement_status",
        "sesd_tenant_recipient_events_total",
        "sesd_tenant_window_delay_ratio",
        "sesd_tenant_suppressed_recipients_total",
        "sesd_ses_reputation_entity_sending_status",
        "sesd_ses_reputation_entity_impact",
    ):
        assert metric in exprs, metric
    assert "sum by (cause)" in exprs  # the cause panel
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    # Every series a panel reads is of the fleets the namespace variable picks: two
    # fleets scraped by one Prometheus are not added together unless asked.
    selectors = [
        (m.group(1), m.group(2) or "")
        for p in dashboard["panels"]
        for t in p.get("targets", [])
        for m in re.finditer(r'(?<![\w:"$.])(sesd[_:][\w:]*|ALERTS)(\{[^}]*\})?', t["expr"])
    ]
    assert len(selectors) > 60
    assert [n for n, s in selectors if 'namespace=~"$namespace"' not in s] == []
    # A per-domain panel follows the domain variable.
    assert all(
        "$domain" in t["expr"]
        for p in dashboard["panels"]
        for t in p.get("targets", [])
        if "by (domain" in t["expr"] or "domain=" in t["expr"]
    )
    # And a per-provider panel the provider variable.
    assert all(
        "$provider" in t["expr"]
        for p in dashboard["panels"]
        for t in p.get("targets", [])
        if "sesd_provider_" in t["expr"]
    )
    # And a per-tenant panel the tenant variable, what SES says of tenants too.
    assert all(
        "$tenant" in t["expr"]
        for p in dashboard["panels"]
        for t in p.get("targets", [])
        if "sesd_tenant_" in t["expr"] or "sesd_ses_reputation_entity_" in t["expr"]
    )
    # Replicas polling the same account report the same status: max, never sum.
    assert any(
        "max by (namespace, account, region, tenant) (sesd_ses_reputation_entity_sending_status"
        '{namespace=~"$namespace",status="DISABLED"' in t["expr"]
        for p in dashboard["panels"]
        for t in p.get("targets", [])
    )
    # Panels tile the 24-column grid: none overlaps another.
    cells = [
        (x, y)
        for p in dashboard["panels"]
        for x in range(p["gridPos"]["x"], p["gridPos"]["x"] + p["gridPos"]["w"])
        for y in range(p["gridPos"]["y"], p["gridPos"]["y"] + p["gridPos"]["h"])
    ]
    assert len(cells) == len(set(cells))
    assert all(p["gridPos"]["x"] + p["gridPos"]["w"] <= 24 for p in dashboard["panels"])


def _unit(panel: dict[str, Any], ref: str) -> str:
    """The unit Grafana shows query ``ref`` of ``panel`` in: its override, else the
    panel's."""
    config = panel["fieldConfig"]
    for override in config.get("overrides", []):
        if override["matcher"] == {"id": "byFrameRefID", "options": ref}:
            for prop in override["properties"]:
                if prop["id"] == "unit":
                    return str(prop["value"])
    return str(config["defaults"]["unit"])


def test_the_dashboard_shows_each_query_in_its_own_unit() -> None:
    """A rate reads as so many a second (sesd counts recipients, messages and lookups,
    not requests), or a minute for rare events, a ratio of rates as a percentage, a
    quantile in seconds, and a gauge with no "/s"; a panel plotting a rate beside a
    gauge gives the gauge an axis of its own."""
    dashboard = json.loads(DASHBOARD.read_text())
    checked = 0
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr, unit = target["expr"], _unit(panel, target["refId"])
            where = f"{panel['title']}: {expr}"
            assert unit != "reqps", where
            if "histogram_quantile" in expr:
                assert unit == "s", where
            elif "rate(" in expr and ") / (" in expr:
                assert unit == "percentunit", where
            elif "rate(" in expr and expr.endswith(") * 60"):  # rare events, a minute
                assert unit.startswith("suffix:"), where
                assert unit.endswith("/min"), where
            elif "rate(" in expr:
                assert unit.startswith("suffix:"), where
                assert unit.endswith("/s"), where
            else:
                assert not unit.endswith("/s"), where
            checked += 1
    assert checked > 40
    (lookups,) = [p for p in dashboard["panels"] if "sesd_dns_lookups_queued" in str(p)]
    (queued,) = lookups["fieldConfig"]["overrides"]
    assert {"id": "custom.axisPlacement", "value": "right"} in queued["properties"]


def filled(expr: str, namespace: str = ".*") -> str:
    """A dashboard query with Grafana's variables filled in: every fleet, domain,
    provider and tenant (their "All"), or the fleet of ``namespace``."""
    return (
        expr.replace("$namespace", namespace)
        .replace("$domain", ".*")
        .replace("$provider", ".*")
        .replace("$tenant", ".*")
        .replace("$__rate_interval", "1m")
    )


def dashboard_queries() -> list[str]:
    """Every PromQL query of the dashboard, with Grafana's variables filled in."""
    dashboard = json.loads(DASHBOARD.read_text())
    return [filled(t["expr"]) for p in dashboard["panels"] for t in p.get("targets", [])]


#: Three replicas' estimates of one account's rates, each over its own share of the
#: sends: (instance, sends, bounce ratio, complaint ratio). The fleet's: 400 hard
#: bounces and 11 complaints over 10,000 sends; AWS's figure the same on each.
_SHARES = (("a", 4000, 0.01, 0.0005), ("b", 3000, 0.02, 0.001), ("c", 3000, 0.1, 0.002))


@pytest.mark.parametrize(
    ("kind", "fleet", "aws"), [("bounce", 0.04, 0.035), ("complaint", 0.0011, 0.0008)]
)
def test_the_dashboard_shows_the_fleets_estimate_of_the_rates(
    tmp_path: Path, kind: str, fleet: float, aws: float
) -> None:
    """Each replica estimates the account's bounce and complaint rates over the sends
    SQS handed it: the panel beside AWS's figure shows the fleet's (every replica's
    bounces over every replica's sends), not the replica whose share looks worst, and
    AWS's figure once, however many replicas poll it. promtool evaluates the panel's
    query on three replicas' samples."""
    dashboard = json.loads(DASHBOARD.read_text())
    (expr,) = [
        filled(t["expr"])
        for p in dashboard["panels"]
        for t in p.get("targets", [])
        if f"sesd_ses_reputation_{kind}_ratio" in t["expr"]
    ]
    where = 'job="sesd",account="prod",region="eu-west-1",configuration_set=""'
    series = []
    for instance, sends, *ratios in _SHARES:
        ratio = ratios[0] if kind == "bounce" else ratios[1]
        one = f'{where},instance="{instance}"'
        series += [
            {"series": f"sesd_ses_reputation_sends{{{one}}}", "values": f"{sends}x5"},
            {"series": f'sesd_ses_reputation_{kind}_ratio{{{one},source="sesd"}}',
             "values": f"{ratio}x5"},
            {"series": f'sesd_ses_reputation_{kind}_ratio{{{one},source="aws"}}',
             "values": f"{aws}x5"},
        ]  # fmt: skip
    labels = 'account="prod", region="eu-west-1"'
    test = {
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "promql_expr_test": [
                    {
                        "expr": expr,
                        "eval_time": "3m",
                        "exp_samples": [
                            {"labels": f'{{{labels}, source="aws"}}', "value": aws},
                            {"labels": f'{{{labels}, source="sesd"}}', "value": fleet},
                        ],
                    }
                ],
            }
        ]
    }
    promtool_passes(tmp_path, test)


#: Three replicas' 15m windows of one domain: (instance, sent, delivered). The fleet
#: sent 300 and all 300 were delivered; a message's Send and Delivery events reach
#: whichever replica SQS hands each to, so no replica's own share is 1.
_SPLIT_SENDS = (("a", 110, 88), ("b", 95, 104), ("c", 95, 108))
#: Another fleet (namespace staging) in the same Prometheus, half its mail to the
#: domain lost: the panel of fleet prod leaves it out.
_OTHER_FLEET = (("d", 300, 150),)


def test_the_delivery_ratio_panel_is_the_fleets_not_the_worst_replicas(tmp_path: Path) -> None:
    """All the mail to a domain was delivered, but its Send and Delivery events reached
    different replicas: one replica counts 110 sends and 88 deliveries (0.8). The panel
    draws the fleet's ratio (every replica's deliveries over every replica's sends: 1),
    not the lowest replica's, which would show a fifth of the mail lost; and, the
    fleet in namespace prod picked, not another fleet's beside it. promtool
    evaluates the panel's query on four replicas' samples."""
    dashboard = json.loads(DASHBOARD.read_text())
    (panel,) = [p for p in dashboard["panels"] if p["title"].startswith("Delivery ratio by")]
    (expr,) = [filled(t["expr"], namespace="prod") for t in panel["targets"]]
    series = []
    replicas = [("prod", *r) for r in _SPLIT_SENDS] + [("staging", *r) for r in _OTHER_FLEET]
    for fleet, instance, sent, delivered in replicas:
        one = f'job="sesd",namespace="{fleet}",instance="{instance}",domain="a.example"'
        one += ',window="15m"'
        series += [
            {"series": f'sesd_window_recipient_events{{{one},event_type="send"}}',
             "values": f"{sent}x5"},
            {"series": f'sesd_window_recipient_events{{{one},event_type="delivery"}}',
             "values": f"{delivered}x5"},
            {"series": f"sesd_window_delivery_ratio{{{one}}}",
             "values": f"{delivered / sent}x5"},
        ]  # fmt: skip
    test = {
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "promql_expr_test": [
                    {
                        "expr": expr,
                        "eval_time": "3m",
                        "exp_samples": [{"labels": '{domain="a.example"}', "value": 1.0}],
                    }
                ],
            }
        ]
    }
    promtool_passes(tmp_path, test)


def test_a_panel_of_one_replicas_window_figure_says_it_is_the_worst_replicas() -> None:
    """A window's quantile or ratio is one replica's figure over its share of the traffic,
    and cannot be added across replicas: a panel that takes the max (or min) of them draws
    the worst replica, and its legend says so, or a fleet's on-call reads one replica's
    p95 as the domain's."""
    dashboard = json.loads(DASHBOARD.read_text())
    per_replica = re.compile(
        r"^(topk( by \(namespace\))? \(\d+, )?"
        r"(max|min) by \([^)]*\) \(sesd_(provider_|tenant_)?window_"
    )
    found = [
        (t["expr"], t["legendFormat"])
        for p in dashboard["panels"]
        for t in p.get("targets", [])
        if per_replica.match(t["expr"])
    ]
    assert len(found) >= 5, found
    for expr, legend in found:
        assert legend.endswith("(worst replica)"), (expr, legend)


def test_a_panel_of_pending_delays_says_they_are_each_replicas() -> None:
    """A delay and its delivery reach different replicas most of the time: the replica
    that saw the delay holds the recipient pending until SES gives up (hours), so the sum
    over a fleet's replicas stays up long after the delays ended. Each panel of pending
    recipients says so, or the on-call reads a throttle that is over as one going on."""
    dashboard = json.loads(DASHBOARD.read_text())
    pending = [
        p
        for p in dashboard["panels"]
        if any("delayed_recipients_pending" in t["expr"] for t in p.get("targets", []))
    ]
    assert len(pending) >= 2, [p["title"] for p in pending]
    for panel in pending:
        assert "per replica" in panel.get("description", ""), panel["title"]


@pytest.mark.parametrize(
    ("title", "fleet"),
    [
        ("Delay ratio, 15m window", "sesd:delay_ratio:15m"),
        ("Delay ratio by provider, 15m window", "sesd:provider_delay_ratio:15m"),
        ("Delay ratio by tenant, 15m", "sesd:tenant_delay_ratio:15m"),
    ],
)
def test_a_15m_delay_ratio_panel_shows_the_fleets_ratio_as_its_alert_reads_it(
    title: str, fleet: str
) -> None:
    """Beside the worst replica's own window, each 15m delay ratio panel draws the
    fleet's ratio from the recording rule its fleet alert reads (the windows summed
    over replicas, not rate() of the counters, which counts a backlog's late events
    and loses a new label's first ones), so the figure on the dashboard is the one
    that paged; a replica's own figure says it is one replica's."""
    dashboard = json.loads(DASHBOARD.read_text())
    (panel,) = [p for p in dashboard["panels"] if p["title"].startswith(title)]
    targets = {t["expr"].split("{")[0]: t["legendFormat"] for t in panel["targets"]}
    assert targets.get(fleet, "").endswith("(fleet)"), targets
    rules = yaml.safe_load((PROMETHEUS / "sesd.rules.yml").read_text())["groups"]
    assert fleet in {r.get("record") for g in rules for r in g["rules"]}
    for expr, legend in targets.items():
        if expr.startswith("max by"):
            assert legend.endswith("(worst replica)"), (expr, legend)


def test_the_hosted_ci_runs_what_ci_runs_and_the_audit() -> None:
    """.github/workflows/ci.yml runs .ci/run (which runs make test) and make audit, within
    CI's 90 minutes."""
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    (job,) = workflow["jobs"].values()
    runs = [step["run"] for step in job["steps"] if "run" in step]
    assert runs[-2:] == [".ci/run", "make audit"]
    assert job["timeout-minutes"] <= 90
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def _locked(name: str) -> dict[str, tuple[str, list[str]]]:
    """requirements/NAME.txt: package -> (version, its hashes)."""
    text = (ROOT / "requirements" / f"{name}.txt").read_text().replace("\\\n", " ")
    found: dict[str, tuple[str, list[str]]] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement, *options = line.split()
        package, _, version = requirement.partition("==")
        found[_normal(package)] = (version, [o for o in options if "hash" in o])
    return found


def _normal(package: str) -> str:
    """A package's name as pip compares it (``PyYAML``, ``pyyaml``; ``a_b``, ``a.b``,
    ``a-b``), without its extras."""
    return re.sub(r"[-_.]+", "-", package.split("[")[0]).lower()


def test_the_lock_files_pin_every_package_with_hashes() -> None:
    """Each lock file pins the whole tree its install needs, with hashes, and holds the
    versions pyproject.toml asks for; the runtime lock holds no development tool; every
    install of the tree (make, the image) checks the hashes."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wants = {
        "runtime": project["dependencies"],
        "demo": project["dependencies"] + project["optional-dependencies"]["demo"],
        "dev": project["dependencies"]
        + project["optional-dependencies"]["demo"]
        + project["optional-dependencies"]["dev"],
    }
    for name, direct in wants.items():
        locked = _locked(name)
        for package, (version, hashes) in locked.items():
            assert version, (name, package)
            assert hashes, (name, package)
        for requirement in direct:
            package, _, version = requirement.partition("==")
            package = package.split("[")[0].lower().replace("_", "-")
            assert locked[package][0] == version, (name, requirement)
    runtime = _locked("runtime")
    for tool in ("mypy", "pytest", "moto", "hypothesis", "ruff", "mutmut"):
        assert tool not in runtime, tool
    assert not (ROOT / "constraints.txt").exists()
    makefile = (ROOT / "Makefile").read_text()
    for name in ("demo", "dev"):
        assert f"install -q --require-hashes -r requirements/{name}.txt" in makefile
    assert "--require-hashes -r runtime.txt" in (ROOT / "Dockerfile").read_text()


def test_no_package_is_pinned_at_two_versions() -> None:
    """Every lock file and pyproject.toml name the same version of a package they
    share: the build lock's packaging was 26.4 and the dev lock's 26.3, so a venv
    holding both trees (the build backend, then the tools) kept whichever came last,
    and which one ran depended on the order of the installs."""
    pinned: dict[str, dict[str, str]] = {}
    for path in sorted((ROOT / "requirements").glob("*.txt")):
        for package, (version, _) in _locked(path.stem).items():
            pinned.setdefault(package, {})[path.name] = version
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = pyproject["project"]
    requirements = [
        *project["dependencies"],
        *(r for extra in project["optional-dependencies"].values() for r in extra),
        *pyproject["build-system"]["requires"],
    ]
    for requirement in requirements:
        package, exact, version = requirement.partition("==")
        if exact:
            pinned.setdefault(_normal(package), {})["pyproject.toml"] = version
    assert len(pinned) > 100  # the whole dev tree was read
    twice = {package: where for package, where in pinned.items() if len(set(where.values())) > 1}
    assert twice == {}


def test_the_editable_install_is_built_by_the_locked_backend(tmp_path: Path) -> None:
    """`make .venv/.dev` builds sesd's editable install with the venv's setuptools and
    wheel, installed from requirements/build.txt with their hashes before it, not in
    an isolated environment: that fetched any setuptools>=77 the index served that
    day, unchecked, so two fresh installs a month apart built with different
    backends."""
    venv = tmp_path / "venv"
    planned = subprocess.run(
        ["make", "-n", f"VENV={venv}", f"{venv}/.dev"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installs = [line for line in planned.splitlines() if " -m pip install " in line]
    backend = [
        i for i, line in enumerate(installs) if "--require-hashes -r requirements/build.txt" in line
    ]
    (editable,) = [i for i, line in enumerate(installs) if " -e ." in line]
    assert backend
    assert backend[0] < editable
    assert "--no-build-isolation" in installs[editable]
    for line in installs:
        assert "--require-hashes" in line or "--no-deps --no-build-isolation -e ." in line, line


def test_the_image_builds_with_the_locked_build_backend() -> None:
    """The image's wheel is built by setuptools and wheel as locked (with hashes, the
    versions `make wheel` uses from the dev lock), without build isolation, which
    would fetch whatever backend the index serves that day."""
    build, dev = _locked("build"), _locked("dev")
    for package in ("setuptools", "wheel"):
        version, hashes = build[package]
        assert hashes, package
        assert dev[package][0] == version, package
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "--require-hashes -r build.txt" in dockerfile
    assert "--no-build-isolation" in dockerfile
    assert "install --no-cache-dir --no-deps . " not in dockerfile
    assert "-o requirements/build.txt" in (ROOT / "Makefile").read_text()


README = ROOT / "README.md"
_WORKLOADS = ["kubernetes", "kubernetes-fleet", "kubernetes-fleet-stateful", "kubernetes-secured"]


def _pods(directory: str) -> list[tuple[dict[str, Any], str]]:
    """Each workload's pod spec as the kustomization renders it, with its config."""
    kinds = _manifests(ROOT / "config" / directory)
    config = kinds["ConfigMap"]["data"]["sesd.toml"]
    return [
        (kinds[kind]["spec"]["template"]["spec"], config)
        for kind in ("Deployment", "StatefulSet")
        if kind in kinds
    ]


def _bytes(quantity: str) -> int:
    """A Kubernetes memory quantity (``256Mi``, ``1Gi``) in bytes."""
    number, unit = re.fullmatch(r"(\d+)(Ki|Mi|Gi)?", quantity).groups()  # type: ignore[union-attr]
    return int(number) * {None: 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}[unit]


@pytest.mark.parametrize("directory", _WORKLOADS)
def test_the_memory_request_covers_what_sesd_holds_in_an_incident(directory: str) -> None:
    """The kubelet evicts first, under a node's memory pressure, the pods using more
    than they requested, and the scheduler places a pod by its request: a request
    below what sesd holds in a delay incident (every cap full), or while a start
    restores a state file with the pending table full, makes the monitor the first
    pod evicted during the incident it reports. The request covers both figures
    README gives, and the limit has room above it."""
    text = " ".join(README.read_text().split())
    start = int(re.search(r"the daemon starts near (\d+) MB", text)[1])  # type: ignore[index]
    flood = int(re.search(r"added about (\d+) MB when measured", text)[1])  # type: ignore[index]
    restore = int(re.search(r"restores it peaks near (\d+) MB", text)[1])  # type: ignore[index]
    needed = max(start + flood, restore) * 2**20  # MB read as MiB: the larger
    for pod, _ in _pods(directory):
        (container,) = pod["containers"]
        resources = container["resources"]
        assert _bytes(resources["requests"]["memory"]) >= needed, resources
        assert _bytes(resources["limits"]["memory"]) >= 2 * needed, resources


def test_reliability_gives_the_memory_figure_readme_gives() -> None:
    """RELIABILITY.md's row of a million new domains says what RSS grew by as README
    does (the figure measured last, BENCHMARKS row 4b), which an SRE sizing the pods
    reads: not an older build's."""
    readme = " ".join(README.read_text().split())
    reliability = " ".join((ROOT / "RELIABILITY.md").read_text().split())
    measured = re.search(r"a million new domains grew RSS by (\d+) MB", readme)
    said = re.findall(r"a million domains grow RSS by (\d+) MB", reliability)
    assert measured is not None
    assert said == [measured[1]]


@pytest.mark.parametrize("directory", _WORKLOADS)
def test_the_state_file_sits_in_a_writable_directory_of_its_own(directory: str) -> None:
    """sesd replaces its state file by a rename in its directory (and keeps its lock
    and restore marker beside it), so [state] path's directory is a volume mounted
    whole and writable, never a subPath (a file mounted alone is a mount point that
    a rename cannot replace: the start refuses it), under a read-only root."""
    for pod, text in _pods(directory):
        path = parse_config(text).state.path
        assert path is not None
        (container,) = pod["containers"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert not [m for m in container["volumeMounts"] if "subPath" in m or "subPathExpr" in m]
        (mount,) = [
            m for m in container["volumeMounts"] if m["mountPath"] == str(Path(path).parent)
        ]
        assert not mount.get("readOnly", False), mount


def _stop_timeouts(text: str) -> list[int]:
    """Each stop timeout a text gives (systemd's TimeoutStopSec, Kubernetes'
    terminationGracePeriodSeconds, ``docker stop --time``), in seconds."""
    pattern = r"TimeoutStopSec=(\d+)s?\b|terminationGracePeriodSeconds:? (\d+)|--time (\d+)"
    return [int(next(g for g in m.groups() if g)) for m in re.finditer(pattern, text)]


def test_every_shipped_stop_timeout_is_the_one_sesd_is_built_to_fit() -> None:
    """sesd's stop has a bound per part: the grace period, LAST_SAVE for the last save,
    EXIT_ROOM for the exit; `sesd check-config` warns of a grace period whose stop
    would outlast SHIPPED_STOP_TIMEOUT, the timeout the shipped units give. The unit,
    every workload the kustomizations render, the image's and README's advice give
    exactly that timeout (a longer one makes the warning wrong, a shorter one has sesd
    killed before its state is saved), and each workload's own config fits in it."""
    from sesd.config.sections import EXIT_ROOM, LAST_SAVE, SHIPPED_STOP_TIMEOUT

    default = parse_config("").shutdown
    assert default.longest_stop(saves=True) == default.grace_period.seconds + LAST_SAVE + EXIT_ROOM
    assert default.longest_stop(saves=True) <= SHIPPED_STOP_TIMEOUT
    unit = (ROOT / "systemd" / "sesd.service").read_text()
    (given,) = re.findall(r"^TimeoutStopSec=(.*)$", unit, re.MULTILINE)
    assert Duration(given).seconds == SHIPPED_STOP_TIMEOUT
    for directory in _WORKLOADS:
        for pod, text in _pods(directory):
            assert pod["terminationGracePeriodSeconds"] == SHIPPED_STOP_TIMEOUT, directory
            shutdown = parse_config(text).shutdown
            assert shutdown.longest_stop(saves=True) <= SHIPPED_STOP_TIMEOUT, directory
    for advice in (ROOT / "Dockerfile", README, ROOT / "systemd" / "sesd.service"):
        said = _stop_timeouts(advice.read_text())
        assert said, advice
        assert set(said) == {SHIPPED_STOP_TIMEOUT}, advice


#: PromQL's own words (functions, aggregations, operators, modifiers): never a series.
_PROMQL_WORDS = frozenset(
    "abs absent absent_over_time and avg avg_over_time bool by ceil changes clamp "  # noqa: SIM905
    "clamp_max clamp_min count count_over_time count_values day_of_week delta deriv "
    "exp floor group_left group_right histogram_quantile hour ignoring increase irate "
    "label_join label_replace last_over_time ln log10 log2 max max_over_time min "
    "min_over_time minute offset on or predict_linear present_over_time quantile "
    "quantile_over_time rate resets round scalar sort sort_desc sqrt stddev stdvar "
    "sum sum_over_time time timestamp topk bottomk unless vector without inf nan Inf "
    "NaN".split()
)
#: Labels Prometheus gives every target's series, and those of its ALERTS series.
_ADDED_LABELS = frozenset(
    {"instance", "job", "namespace", "pod", "container", "service", "endpoint", "__name__"}
    | {"alertname", "alertstate", "severity"}
)
_STRING = r'"(?:[^"\\]|\\.)*"'


def _queries() -> list[tuple[str, str]]:
    """(where, PromQL) of every query the dashboard (its variables too) and the shipped
    rules make, and the names the rules record."""
    dashboard = json.loads(DASHBOARD.read_text())
    found = [(f"dashboard: {p['title']}", t["expr"]) for p in dashboard["panels"]
             for t in p.get("targets", [])]  # fmt: skip
    found += [
        (f"dashboard: ${v['name']}", v["definition"])
        for v in dashboard["templating"]["list"]
        if v["type"] == "query"
    ]
    for path in (PROMETHEUS / "sesd.rules.yml", *ROOT.glob("config/*/prometheusrule.yaml")):
        document = yaml.safe_load(path.read_text())
        for group in document.get("spec", document)["groups"]:
            for rule in group["rules"]:
                name = rule.get("alert", rule.get("record"))
                found.append((f"{path.relative_to(ROOT)}: {name}", rule["expr"]))
                if "record" in rule:
                    found.append(("record", rule["record"]))
    return found


def test_every_series_and_label_the_dashboard_and_rules_read_is_one_sesd_exports() -> None:
    """A misspelt metric or label in a rule or a panel is valid PromQL that matches
    nothing: the alert never fires, the panel stays empty. With every feature on and
    traffic of every kind, sesd exports each series the dashboard and the shipped rules
    read (or a rule records it), with each label their selectors match on; each label
    they group or join by is one of sesd's or one Prometheus adds."""
    from tests.test_promtool_metrics import busy_daemon

    text = render(busy_daemon().metrics.registry.collect()).decode()
    exported: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            exported.setdefault(sample.name, set()).update(sample.labels)
    every_label = set().union(*exported.values()) | _ADDED_LABELS
    queries = _queries()
    recorded = {expr for where, expr in queries if where == "record"}
    known = exported.keys() | recorded | {"ALERTS", "up"}
    wrong = []
    for where, expr in queries:
        bare = re.sub(r"\[[^\]]*\]", "", re.sub(_STRING, '""', expr))
        # A variable's label_values(series, label): its label is checked below.
        bare = re.sub(r"label_values\((\w+)(\{[^}]*\})?,\s*\w+\)", r"\1\2", bare)
        for match in re.finditer(r"(?<![\w:.])([a-zA-Z_:][\w:]*)\s*(\{[^}]*\})?", bare):
            before = bare[: match.start()]
            if re.search(r"(\{[^}]*|\b(by|without|on|ignoring|group_\w+)\s*\([^)]*)$", before):
                continue  # a label name, not a series
            name, matchers = match.group(1), match.group(2) or ""
            if name in _PROMQL_WORDS:
                continue
            if name not in known:
                wrong.append(f"{where}: series {name}")
            labels = set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", matchers))
            if name in exported and labels - exported[name] - _ADDED_LABELS:
                wrong.append(f"{where}: {name} has no {labels - exported[name] - _ADDED_LABELS}")
        for clause in re.findall(r"\b(?:by|without|on|ignoring|group_\w+)\s*\(([^)]*)\)", bare):
            wrong += [
                f"{where}: label {x}" for x in re.findall(r"\w+", clause) if x not in every_label
            ]
        for name, label in re.findall(r"label_values\((\w+)(?:\{[^}]*\})?,\s*(\w+)\)", expr):
            if label not in exported.get(name, set()) | _ADDED_LABELS:
                wrong.append(f"{where}: {name} has no {label}")
    assert not wrong, wrong
    assert len(queries) > 150
