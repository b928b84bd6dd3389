"""The deployment files (``deploy/kubernetes``, ``deploy/argocd``, ``docs/deploy.md``) against
the Kubernetes schemas, Argo CD's API, and what meshgate itself reads and serves.

The Kubernetes schemas are those bundled in ``kubernetes-validate`` (strict: unknown fields
are errors), read from the installed package; nothing here touches the network. The Argo CD
``Application`` is checked against ``v1alpha1Application`` of Argo CD's own Swagger document
(``shared/fixtures/argocd/swagger.json``), made strict the same way.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from controller import __version__
from controller.credentials import credentials_in
from controller.intake import normalize_argocd
from controller.intake.argocd_events import TRIGGER_HEALTH, TRIGGER_SYNC_STATUS
from controller.settings import _ENVIRONMENT, Settings, load_settings
from controller.web.openapi import openapi_document
from tests.support.webhooks import SHARED

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
ARGOCD = ROOT / "deploy" / "argocd"
ARGOCD_FIXTURES = SHARED / "fixtures" / "argocd"
MANIFESTS = sorted(
    [p for p in KUBERNETES.glob("*.yaml") if p.name != "kustomization.yaml"]
    + list(ARGOCD.glob("*.yaml"))
)
# The oldest Kubernetes release the manifests are meant for, and the newest one bundled.
KUBERNETES_VERSIONS = ("1.29", kubernetes_validate.utils.latest_version())
# meshgate's own credentials: never in a ConfigMap, always from a Secret.
SECRET_SETTINGS = {
    "MESHGATE_DATABASE_URL",
    "MESHGATE_CONFIG_REPO",
    "MESHGATE_API_TOKENS",
    "MESHGATE_READ_TOKENS",
}
# What ``controller.serving`` gives open connections after the runs' grace.
CONNECTIONS_GRACE_SECONDS = 5
SECRET_LOOKING = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|KEY|CREDENTIAL", re.IGNORECASE)


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def only(path: Path, kind: str) -> dict[str, Any]:
    found = [doc for doc in documents(path) if doc["kind"] == kind]
    assert len(found) == 1, f"{path.name}: expected one {kind}, found {len(found)}"
    return found[0]


def deployment() -> dict[str, Any]:
    return only(KUBERNETES / "deployment.yaml", "Deployment")


def pod_spec() -> dict[str, Any]:
    spec: dict[str, Any] = deployment()["spec"]["template"]["spec"]
    return spec


def container() -> dict[str, Any]:
    containers = pod_spec()["containers"]
    assert len(containers) == 1
    found: dict[str, Any] = containers[0]
    return found


def configmap_data() -> dict[str, str]:
    data: dict[str, str] = only(KUBERNETES / "configmap.yaml", "ConfigMap")["data"]
    return data


def configmap_settings() -> Settings:
    return load_settings(configmap_data())


def service() -> dict[str, Any]:
    return only(KUBERNETES / "service.yaml", "Service")


def kustomization() -> dict[str, Any]:
    return only(KUBERNETES / "kustomization.yaml", "Kustomization")


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def container_port(port: int | str) -> int:
    """A probe's or the Service's target port, by number or by the container port's name."""
    for declared in container()["ports"]:
        if port in (declared["containerPort"], declared.get("name")):
            number: int = declared["containerPort"]
            return number
    raise AssertionError(f"port {port!r} is not a port of the container")


def env_entries() -> dict[str, dict[str, Any]]:
    entries = container()["env"]
    names = [entry["name"] for entry in entries]
    assert len(names) == len(set(names)), f"env names repeat: {names}"
    return {entry["name"]: entry for entry in entries}


def secret_key_ref(name: str) -> dict[str, Any]:
    entry = env_entries().get(name)
    assert entry is not None, f"the container has no env {name}"
    assert "value" not in entry, f"{name} is a literal value, not a Secret reference"
    ref: dict[str, Any] = entry["valueFrom"]["secretKeyRef"]
    return ref


def paths_served() -> dict[str, Any]:
    paths: dict[str, Any] = openapi_document()["paths"]
    return paths


# --- schemas -------------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_deploy_manifests_validate_against_kubernetes_schemas(path: Path, version: str) -> None:
    docs = documents(path)
    assert docs, f"{path} holds no document"
    for doc in docs:
        if doc["apiVersion"] == "argoproj.io/v1alpha1":
            continue  # a custom resource: test_deploy_application_validates_against_argocd_api
        kubernetes_validate.validate(doc, version, strict=True)


def test_deploy_validator_rejects_unknown_and_mistyped_fields() -> None:
    """The strict schemas do find mistakes (so the test above can fail)."""
    good = deployment()
    kubernetes_validate.validate(good, KUBERNETES_VERSIONS[0], strict=True)
    typo = copy.deepcopy(good)
    probe = typo["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    probe["httpget"] = probe.pop("httpGet")
    mistyped = copy.deepcopy(good)
    mistyped["spec"]["replicas"] = "3"
    for bad in (typo, mistyped):
        with pytest.raises(jsonschema.ValidationError):
            kubernetes_validate.validate(bad, KUBERNETES_VERSIONS[0], strict=True)


@cache
def argocd_application_schema() -> dict[str, Any]:
    """``v1alpha1Application`` of Argo CD's Swagger document, strict: an object with named
    properties takes no others, and the fields the CRD requires are required."""
    definitions = copy.deepcopy(
        json.loads((ARGOCD_FIXTURES / "swagger.json").read_text())["definitions"]
    )

    def strict(node: Any) -> None:
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for value in node.values():
                strict(value)
        elif isinstance(node, list):
            for value in node:
                strict(value)

    strict(definitions)
    application = definitions["v1alpha1Application"]
    # The Swagger document leaves out the type meta; the CRD has it, and requires these.
    application["properties"]["apiVersion"] = {"enum": ["argoproj.io/v1alpha1"]}
    application["properties"]["kind"] = {"enum": ["Application"]}
    application["required"] = ["apiVersion", "kind", "metadata", "spec"]
    definitions["v1alpha1ApplicationSpec"]["required"] = ["destination", "project"]
    definitions["v1alpha1ApplicationSource"]["required"] = ["repoURL"]
    return {"$ref": "#/definitions/v1alpha1Application", "definitions": definitions}


def argocd_application() -> dict[str, Any]:
    return only(ARGOCD / "application.yaml", "Application")


def test_deploy_application_validates_against_argocd_api() -> None:
    jsonschema.Draft4Validator(argocd_application_schema()).validate(argocd_application())


@pytest.mark.parametrize(
    ("where", "field"),
    [(("spec", "syncPolicy", "automated"), "selfheal"), (("spec",), "sources_")],
)
def test_deploy_application_schema_rejects_unknown_fields(
    where: tuple[str, ...], field: str
) -> None:
    bad = argocd_application()
    node = bad
    for key in where:
        node = node[key]
    node[field] = True
    with pytest.raises(jsonschema.ValidationError, match=field):
        jsonschema.Draft4Validator(argocd_application_schema()).validate(bad)


def test_deploy_application_syncs_these_manifests() -> None:
    application = argocd_application()["spec"]
    assert (ROOT / application["source"]["path"]) == KUBERNETES
    assert application["destination"]["namespace"] == kustomization()["namespace"]
    automated = application["syncPolicy"]["automated"]
    assert automated["prune"] is True
    assert automated["selfHeal"] is True
    assert "CreateNamespace=true" in application["syncPolicy"]["syncOptions"]


def test_deploy_kustomization_lists_every_manifest() -> None:
    listed = kustomization()["resources"]
    assert len(listed) == len(set(listed))
    on_disk = {p.name for p in KUBERNETES.glob("*.y*ml")} - {"kustomization.yaml"}
    assert set(listed) == on_disk
    namespace = kustomization()["namespace"]
    assert namespace == "meshgate"
    for name in listed:
        for doc in documents(KUBERNETES / name):
            assert doc["metadata"].get("namespace", namespace) == namespace, name


# --- settings ------------------------------------------------------------------------------


def test_deploy_configmap_holds_only_meshgate_settings() -> None:
    known = set(_ENVIRONMENT.values())
    unknown = set(configmap_data()) - known
    assert not unknown, f"not meshgate settings (controller/settings.py): {sorted(unknown)}"
    configmap_settings()  # every value is one meshgate accepts (SettingsError otherwise)


def test_deploy_configmap_holds_no_secret() -> None:
    data = configmap_data()
    assert not SECRET_SETTINGS & set(data)
    for name, value in data.items():
        assert not SECRET_LOOKING.search(name), name
        assert credentials_in(value) == [], f"{name} carries credentials"


def test_deploy_secret_settings_come_from_secrets() -> None:
    """meshgate's credentials are Secret references, and settings come from one place
    each (an ``env`` entry would silently win over the ConfigMap's)."""
    for name in SECRET_SETTINGS:
        secret_key_ref(name)
    assert not set(env_entries()) & set(configmap_data())
    assert [source["configMapRef"]["name"] for source in container()["envFrom"]] == [
        only(KUBERNETES / "configmap.yaml", "ConfigMap")["metadata"]["name"]
    ]
    for name, entry in env_entries().items():
        if "value" in entry:
            assert not SECRET_LOOKING.search(name), f"{name} is a literal, not a Secret"


def test_deploy_replicas_share_one_database() -> None:
    """Several replicas on the default SQLite would each have their own database in their
    own emptyDir: the database URL must be set, from a Secret, and not be SQLite's."""
    assert deployment()["spec"]["replicas"] > 1
    ref = secret_key_ref("MESHGATE_DATABASE_URL")
    assert ref.get("optional", False) is False
    assert "sqlite" not in json.dumps(ref).lower()


def test_deploy_config_repo_secret_references_are_provided() -> None:
    """Every ``{env: NAME}`` and ``{file: PATH}`` in example-config-repo/ is there in the pod:
    an env var from a Secret, or a key of a Secret volume mounted at that path."""
    env_refs: set[str] = set()
    file_refs: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if set(node) == {"env"}:
                env_refs.add(node["env"])
            elif set(node) == {"file"}:
                file_refs.add(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in (ROOT / "example-config-repo").rglob("*.yaml"):
        for doc in documents(path):
            walk(doc)
    assert env_refs
    assert file_refs
    for name in env_refs:
        secret_key_ref(name)
    volumes = {volume["name"]: volume for volume in pod_spec()["volumes"]}
    provided: set[str] = set()
    for mount in container()["volumeMounts"]:
        secret = volumes[mount["name"]].get("secret")
        if secret is not None:
            for item in secret["items"]:
                provided.add(f"{mount['mountPath'].rstrip('/')}/{item['path']}")
    assert file_refs <= provided


def test_deploy_termination_grace_exceeds_shutdown_grace() -> None:
    """The kubelet's SIGKILL must come after meshgate's own shutdown grace has run out."""
    grace = configmap_settings().shutdown_grace.total_seconds()
    assert pod_spec()["terminationGracePeriodSeconds"] > grace + CONNECTIONS_GRACE_SECONDS


# --- what the pod runs and serves ----------------------------------------------------------


def test_deploy_probes_use_meshgate_health_endpoints() -> None:
    probes = {
        kind: container()[kind] for kind in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert probes["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert probes["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert probes["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in probes.values():
        assert "get" in paths_served()[probe["httpGet"]["path"]]
        assert container_port(probe["httpGet"]["port"]) == configmap_settings().port


def test_deploy_ports_agree() -> None:
    """meshgate listens (MESHGATE_PORT, on every address) where the container, the Service
    and the image say."""
    settings = configmap_settings()
    assert settings.host == "0.0.0.0"
    assert [port["containerPort"] for port in container()["ports"]] == [settings.port]
    for port in service()["spec"]["ports"]:
        assert container_port(port["targetPort"]) == settings.port
    assert re.search(rf"^EXPOSE {settings.port}$", dockerfile(), re.MULTILINE)


def test_deploy_pod_runs_as_the_image_user_on_a_read_only_root() -> None:
    uid = re.search(r"useradd .*--uid (\d+)", dockerfile())
    assert uid is not None
    pod = pod_spec()["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] == int(uid[1])
    assert re.search(rf"^USER {uid[1]}(:\d+)?$", dockerfile(), re.MULTILINE)
    own = container()["securityContext"]
    assert own["readOnlyRootFilesystem"] is True
    assert own["allowPrivilegeEscalation"] is False
    assert own["capabilities"]["drop"] == ["ALL"]
    # What meshgate writes (its data dir: the Git clone) and temporary files are volumes.
    volumes = {volume["name"]: volume for volume in pod_spec()["volumes"]}
    writable = {
        mount["mountPath"]
        for mount in container()["volumeMounts"]
        if "emptyDir" in volumes[mount["name"]]
    }
    assert str(configmap_settings().data_dir) in writable
    assert "/tmp" in writable


def test_deploy_image_is_this_version_with_what_it_needs() -> None:
    assert container()["image"].rsplit(":", 1)[1] == __version__
    text = dockerfile()
    assert '".[postgres]"' in text  # psycopg, for postgresql+psycopg:// URLs
    assert re.search(r"apt-get install .*\bgit\b", text)  # the config repo's clone
    assert re.search(r'^ENTRYPOINT \["meshgate", "serve"\]$', text, re.MULTILINE)
    assert "args" not in container()  # "serve" is the entrypoint's already
    assert "command" not in container()


def test_deploy_no_kubernetes_api_token() -> None:
    account = only(KUBERNETES / "serviceaccount.yaml", "ServiceAccount")
    assert account["automountServiceAccountToken"] is False
    assert pod_spec()["serviceAccountName"] == account["metadata"]["name"]
    assert pod_spec()["automountServiceAccountToken"] is False


def test_deploy_selectors_match_the_pods() -> None:
    labels = deployment()["spec"]["template"]["metadata"]["labels"]

    def selects(selector: Mapping[str, str]) -> bool:
        return bool(selector) and all(labels.get(k) == v for k, v in selector.items())

    assert deployment()["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert selects(service()["spec"]["selector"])
    budget = only(KUBERNETES / "poddisruptionbudget.yaml", "PodDisruptionBudget")["spec"]
    assert selects(budget["selector"]["matchLabels"])
    replicas = deployment()["spec"]["replicas"]
    allowed = budget.get("maxUnavailable", replicas - budget.get("minAvailable", replicas))
    assert 1 <= allowed < replicas  # a drain can proceed, and never takes all replicas
    spread = pod_spec()["topologySpreadConstraints"]
    assert spread
    for constraint in spread:
        assert selects(constraint["labelSelector"]["matchLabels"])


# --- Argo CD Notifications -----------------------------------------------------------------


def notifications() -> dict[str, str]:
    data: dict[str, str] = only(ARGOCD / "notifications-cm.yaml", "ConfigMap")["data"]
    return data


def notification_entry(prefix: str) -> tuple[str, Any]:
    found = [(key, value) for key, value in notifications().items() if key.startswith(prefix)]
    assert len(found) == 1, f"expected one {prefix}* entry"
    key, value = found[0]
    return key[len(prefix) :], yaml.safe_load(value)


def test_deploy_notifications_reach_meshgate_argocd_webhook() -> None:
    service_name, webhook = notification_entry("service.webhook.")
    template_name, template = notification_entry("template.")
    _, triggers = notification_entry("trigger.")
    url = urlsplit(webhook["url"])
    meta = service()["metadata"]
    assert url.scheme == "http"
    assert url.hostname == f"{meta['name']}.{meta['namespace']}.svc"
    assert url.port in [port["port"] for port in service()["spec"]["ports"]]
    headers = {header["name"]: header["value"] for header in webhook["headers"]}
    assert headers["Content-Type"] == "application/json"
    assert re.fullmatch(r"Bearer \$[\w-]+", headers["Authorization"])
    request = template["webhook"][service_name]
    assert request["method"] == "POST"
    assert "post" in paths_served()[request["path"]]
    assert [trigger["send"] for trigger in triggers] == [[template_name]]
    # Sent only in the state meshgate starts runs in (others are recorded and ignored).
    for trigger in triggers:
        assert f"app.status.sync.status == '{TRIGGER_SYNC_STATUS}'" in trigger["when"]
        assert f"app.status.health.status == '{TRIGGER_HEALTH}'" in trigger["when"]
        assert "app.status.operationState != nil" in trigger["when"]


class GoTemplateError(Exception):
    pass


_FIELDS = r"(?:\.[A-Za-z_]\w*)+"
_INDEXED = rf"\(index (?P<base>{_FIELDS}) (?P<at>\d+)\)(?P<rest>(?:{_FIELDS})?)"
_ARGUMENT = re.compile(rf"^(?:(?P<fields>{_FIELDS})|{_INDEXED})$")


def render_go_template(text: str, data: Mapping[str, Any]) -> str:
    """The part of Go's text/template (with Sprig's ``toJson``) the meshgate template uses:
    ``{{ toJson ARG }}``, ``{{ if ARG }}...{{ else }}...{{ end }}``, where ARG is a field
    chain (``.app.spec.source``) or ``(index .app.spec.sources 0).repoURL``. A missing map
    key is nil (``null`` through ``toJson``, false for ``if``); a field of nil is an error,
    as in Go. Anything else raises, so the template cannot use what this does not check."""
    parts = re.split(r"(\{\{.*?\}\})", text, flags=re.DOTALL)
    out, _ = _render(parts, 0, data, active=True, closing=False)
    return out


def _render(
    parts: list[str], i: int, data: Mapping[str, Any], *, active: bool, closing: bool
) -> tuple[str, int]:
    """Render from ``parts[i]`` to the ``else``/``end`` closing it; a branch not taken
    (``active`` false) is parsed but not evaluated, as in Go."""
    out: list[str] = []
    while i < len(parts):
        part = parts[i]
        if not part.startswith("{{"):
            out.append(part)
            i += 1
            continue
        action = part[2:-2].strip()
        if action in ("else", "end"):
            if not closing:
                raise GoTemplateError(f"unexpected {{{{ {action} }}}}")
            return "".join(out), i
        if action.startswith("toJson "):
            value = _evaluate(action[len("toJson ") :].strip(), data, active=active)
            out.append(json.dumps(value))
            i += 1
        elif action.startswith("if "):
            condition = _truthy(_evaluate(action[len("if ") :].strip(), data, active=active))
            then, i = _render(parts, i + 1, data, active=active and condition, closing=True)
            otherwise = ""
            if parts[i][2:-2].strip() == "else":
                otherwise, i = _render(
                    parts, i + 1, data, active=active and not condition, closing=True
                )
            if parts[i][2:-2].strip() != "end":
                raise GoTemplateError("{{ if }} without {{ end }}")
            out.append(then if condition else otherwise)
            i += 1
        else:
            raise GoTemplateError(f"unsupported action {part!r}")
    if closing:
        raise GoTemplateError("missing {{ end }}")
    return "".join(out), i


def _evaluate(argument: str, data: Mapping[str, Any], *, active: bool) -> Any:
    found = _ARGUMENT.match(argument)
    if found is None:
        raise GoTemplateError(f"unsupported argument {argument!r}")
    if not active:
        return None
    if found["fields"]:
        return _fields(data, found["fields"])
    base = _fields(data, found["base"])
    if not isinstance(base, list) or int(found["at"]) >= len(base):
        raise GoTemplateError(f"error calling index: {found['base']} has no {found['at']}")
    return _fields(base[int(found["at"])], found["rest"] or "")


def _fields(value: Any, chain: str) -> Any:
    for name in chain.split(".")[1:]:
        if value is None:
            raise GoTemplateError(f"nil pointer evaluating interface {{}}.{name}")
        if not isinstance(value, dict):
            raise GoTemplateError(f"can't evaluate field {name} in {type(value).__name__}")
        value = value.get(name)
    return value


def _truthy(value: Any) -> bool:
    return value not in (None, False, 0, "") and value != [] and value != {}


def test_deploy_go_template_subset_behaves_like_go() -> None:
    data = {"app": {"spec": {"sources": [{"repoURL": "r"}]}, "name": "a"}}
    assert render_go_template("{{ toJson .app.missing }}", data) == "null"
    assert render_go_template("{{ toJson (index .app.spec.sources 0).repoURL }}", data) == '"r"'
    assert render_go_template("{{ if .app.spec.source }}x{{ else }}y{{ end }}", data) == "y"
    assert render_go_template("{{ if .app.name }}{{ toJson .app.name }}{{ end }}", data) == '"a"'
    # The branch not taken is not evaluated (its field of nil is no error).
    assert render_go_template("{{ if .app.x }}{{ toJson .app.x.y }}{{ end }}", data) == ""
    with pytest.raises(GoTemplateError, match="nil pointer"):
        render_go_template("{{ toJson .app.spec.source.repoURL }}", data)
    with pytest.raises(GoTemplateError, match="unsupported"):
        render_go_template("{{ .app.name }}", data)


@pytest.mark.parametrize(
    ("fixture", "revision", "repository"),
    [
        (
            "application-synced-healthy.json",
            "ea8759964626a583667a2bfd08f334ec2070040a",
            "https://github.com/foo/manifests-velero.git",
        ),
        (
            "assembled/application-multisource-synced-healthy.json",
            "3e7a9c0b1d2f4a5b6c7d8e9f0a1b2c3d4e5f6a7b",
            "https://gitea.example.com/myorg/myapp.git",
        ),
    ],
)
def test_deploy_notifications_template_renders_a_body_meshgate_accepts(
    fixture: str, revision: str, repository: str
) -> None:
    """The template's body, rendered for real Applications (single- and multi-source), is
    the TestMesh body, and meshgate's Argo CD normalizer starts runs from it."""
    _, template = notification_entry("template.")
    (request,) = template["webhook"].values()
    app = json.loads((ARGOCD_FIXTURES / fixture).read_text())
    body = render_go_template(request["body"], {"app": app})
    payload = json.loads(body)
    assert {"app_name", "revision", "repository", "status", "health"} <= set(payload)
    event = normalize_argocd(body.encode())
    assert event.trigger, event.ignored_reason
    assert event.repository == app["metadata"]["name"]
    assert event.revision == revision
    assert event.repo_url == repository
    assert event.namespace == app["spec"]["destination"]["namespace"]


# --- documentation -------------------------------------------------------------------------


def deploy_doc() -> str:
    return (ROOT / "docs" / "deploy.md").read_text()


def test_deploy_docs_quote_the_deploy_files() -> None:
    """docs/deploy.md shows the notifications ConfigMap as it is in deploy/argocd/, and the
    README links the guide."""
    assert (ARGOCD / "notifications-cm.yaml").read_text() in deploy_doc()
    assert "docs/deploy.md" in (ROOT / "README.md").read_text()


def test_deploy_docs_name_real_settings_and_routes() -> None:
    doc = deploy_doc()
    named = set(re.findall(r"\bMESHGATE_[A-Z_]+\b", doc))
    assert named
    assert named <= set(_ENVIRONMENT.values())
    for path in re.findall(r"/api/v1/webhooks/(?:gitea|argocd)", doc):
        assert "post" in paths_served()[path]


def iter_kubectl_secret_keys(doc: str) -> Iterator[tuple[str, str]]:
    """``(secret, key)`` of every ``--from-literal=KEY=`` / ``--from-file=KEY=`` of the
    ``kubectl -n meshgate create secret generic NAME`` commands in the guide."""
    for line in doc.replace("\\\n", " ").splitlines():
        words = line.split()
        if words[:6] == ["kubectl", "-n", "meshgate", "create", "secret", "generic"]:
            for word in words[7:]:
                key = re.match(r"--from-(?:literal|file)=([\w.-]+)=", word)
                if key is not None:
                    yield words[6], key[1]


def test_deploy_docs_create_every_secret_key_the_pod_needs() -> None:
    created = set(iter_kubectl_secret_keys(deploy_doc()))
    needed = {
        (entry["valueFrom"]["secretKeyRef"]["name"], entry["valueFrom"]["secretKeyRef"]["key"])
        for entry in env_entries().values()
        if "secretKeyRef" in entry.get("valueFrom", {})
        and not entry["valueFrom"]["secretKeyRef"].get("optional", False)
    }
    for volume in pod_spec()["volumes"]:
        if "secret" in volume:
            needed |= {
                (volume["secret"]["secretName"], i["key"]) for i in volume["secret"]["items"]
            }
    assert needed <= created
