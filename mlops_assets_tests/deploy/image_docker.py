"""The production image on this machine's Docker engine: build it once, and run a pod spec as `docker run`.

`pod_to_docker_run` translates the pod template of a Kubernetes Job the way the kubelet would run it on
one node: the container's args and env (env, envFrom ConfigMaps/Secrets, secretKeyRef, fieldRef), its
uid/gid and fsGroup, a read-only root, dropped capabilities and no privilege escalation, emptyDir as
tmpfs, a PVC as a bind mount of a host folder, ConfigMap/Secret volumes as read-only folders of files,
and memory/CPU limits. The cluster objects it refers to are passed in (`Cluster`); a reference to one
that does not exist is an error, as it would keep the pod from starting. The pod joins the host network
so PostgreSQL and MLflow on 127.0.0.1 play the cluster Services.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .step_jobs import REPO_ROOT

IMAGE = os.getenv("MLOPS_TEST_IMAGE", "mlops-assets:local")
BUILD = REPO_ROOT / "deploy" / "image" / "build.sh"
DOCKERD = REPO_ROOT / "deploy" / "image" / "dockerd.sh"


@functools.cache
def docker_unavailable() -> str | None:
    """Why no Docker engine can be used here (None when one answers, started by deploy/image/dockerd.sh)."""
    if not shutil.which("docker"):
        return "no docker client (apt-get install docker.io)"
    proc = subprocess.run([str(DOCKERD)], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        return f"dockerd cannot start: {proc.stderr.strip()[-500:]}"
    return None


@functools.cache
def built_image() -> str:
    """`make image` once per test session (docker's layer cache makes a rebuild take seconds)."""
    proc = subprocess.run(
        [str(BUILD)], env={**os.environ, "IMAGE": IMAGE}, capture_output=True, text=True, timeout=1800
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"deploy/image/build.sh failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return IMAGE


def docker(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"docker {' '.join(args[:3])} ... failed ({proc.returncode}): {proc.stderr[-3000:]}"
        )
    return proc


@dataclass
class Cluster:
    """The namespace's objects a pod may reference, and the host folders that back its PVCs."""

    namespace: str
    config_maps: dict[str, dict[str, str]] = field(default_factory=dict)
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    pvcs: dict[str, Path] = field(default_factory=dict)
    nproc: int = os.cpu_count() or 1

    def config_map(self, name: str) -> dict[str, str]:
        if name not in self.config_maps:
            raise KeyError(f"pod references ConfigMap {name!r}, which does not exist in {self.namespace}")
        return self.config_maps[name]

    def secret(self, name: str) -> dict[str, str]:
        if name not in self.secrets:
            raise KeyError(f"pod references Secret {name!r}, which does not exist in {self.namespace}")
        return self.secrets[name]


def _quantity_bytes(q: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9}
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([A-Za-z]*)", q)
    if not m or m.group(2) not in (*units, ""):
        raise ValueError(f"unsupported quantity {q!r}")
    return int(float(m.group(1)) * units.get(m.group(2), 1))


def _cpus(q: str) -> float:
    return int(q[:-1]) / 1000 if q.endswith("m") else float(q)


def _env(container: Mapping[str, Any], pod_meta: Mapping[str, Any], cluster: Cluster) -> dict[str, str]:
    """envFrom first, then env (later entries win), as the kubelet resolves them."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(cluster.config_map(source["configMapRef"]["name"]))
        elif "secretRef" in source:
            env.update(cluster.secret(source["secretRef"]["name"]))
        else:
            raise ValueError(f"unsupported envFrom {source}")
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
            continue
        ref = item["valueFrom"]
        if "secretKeyRef" in ref:
            env[item["name"]] = cluster.secret(ref["secretKeyRef"]["name"])[ref["secretKeyRef"]["key"]]
        elif "configMapKeyRef" in ref:
            env[item["name"]] = cluster.config_map(ref["configMapKeyRef"]["name"])[
                ref["configMapKeyRef"]["key"]
            ]
        elif ref.get("fieldRef", {}).get("fieldPath") == "metadata.namespace":
            env[item["name"]] = cluster.namespace
        elif ref.get("fieldRef", {}).get("fieldPath") == "metadata.name":
            env[item["name"]] = pod_meta["name"]
        else:
            raise ValueError(f"unsupported env source {item}")
    return env


def _write_files(folder: Path, files: Mapping[str, str], mode: int, gid: int | None) -> None:
    folder.mkdir(parents=True)
    for name, content in files.items():
        path = folder / name
        path.write_text(content)
        if gid is not None and os.geteuid() == 0:
            os.chown(path, 0, gid)
        path.chmod(mode)
    folder.chmod(0o755)


def pod_to_docker_run(
    pod_template: Mapping[str, Any],
    image: str,
    cluster: Cluster,
    scratch: Path,
    name: str,
    detach: bool = False,
) -> list[str]:
    """`docker run` arguments (after `docker`) for the single container of a pod template.

    A detached container (a Deployment's pod) is kept after it exits so its logs can be read."""
    spec = pod_template["spec"]
    meta = {**pod_template.get("metadata", {}), "name": name}
    (container,) = spec["containers"]
    pod_sc, sc = spec.get("securityContext", {}), container.get("securityContext", {})
    uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
    gid = sc.get("runAsGroup", pod_sc.get("runAsGroup"))
    fs_group = pod_sc.get("fsGroup")
    cmd = ["run", "-d" if detach else "--rm", "--name", name, "--network", "host", "--pull", "never"]
    if uid is not None:
        cmd += ["--user", f"{uid}:{gid if gid is not None else uid}"]
    if fs_group is not None:
        cmd += ["--group-add", str(fs_group)]
    if sc.get("readOnlyRootFilesystem"):
        cmd.append("--read-only")
    if "ALL" in sc.get("capabilities", {}).get("drop", []):
        cmd += ["--cap-drop", "ALL"]
    if sc.get("allowPrivilegeEscalation") is False:
        cmd += ["--security-opt", "no-new-privileges"]
    limits = container.get("resources", {}).get("limits", {})
    if "memory" in limits:
        cmd += ["--memory", str(_quantity_bytes(limits["memory"]))]
    if "cpu" in limits:  # a limit above the node's cores means "all of them" on one node
        cmd += ["--cpus", f"{min(_cpus(limits['cpu']), cluster.nproc):g}"]
    for key, value in (meta.get("labels") or {}).items():
        cmd += ["--label", f"{key}={value}"]
    # Through a file, not -e: secret values stay out of the process list and of error messages.
    scratch.mkdir(parents=True, exist_ok=True)
    env_file = scratch / f"{name}.env"
    env_file.touch(mode=0o600)
    env_file.write_text("".join(f"{k}={v}\n" for k, v in _env(container, meta, cluster).items()))
    cmd += ["--env-file", str(env_file)]

    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        vol = volumes[mount["name"]]
        target, ro = mount["mountPath"], bool(mount.get("readOnly"))
        if "emptyDir" in vol:
            size = vol["emptyDir"].get("sizeLimit")
            opts = f",tmpfs-size={_quantity_bytes(size)}" if size else ""
            cmd += ["--mount", f"type=tmpfs,destination={target},tmpfs-mode=1777{opts}"]
            continue
        if "persistentVolumeClaim" in vol:
            claim = vol["persistentVolumeClaim"]["claimName"]
            if claim not in cluster.pvcs:
                raise KeyError(f"pod references PVC {claim!r}, which does not exist in {cluster.namespace}")
            source = cluster.pvcs[claim]
        elif "secret" in vol:
            source = scratch / "volumes" / mount["name"]
            mode = vol["secret"].get("defaultMode", 0o644)
            _write_files(source, cluster.secret(vol["secret"]["secretName"]), mode, fs_group)
        elif "configMap" in vol:
            source = scratch / "volumes" / mount["name"]
            mode = vol["configMap"].get("defaultMode", 0o644)
            _write_files(source, cluster.config_map(vol["configMap"]["name"]), mode, fs_group)
        else:
            raise ValueError(f"unsupported volume {vol}")
        if mount.get("subPath"):
            source = source / mount["subPath"]
        cmd += ["--mount", f"type=bind,source={source},destination={target}{',readonly' if ro else ''}"]
    cmd.append(image)
    cmd += [*container.get("command", []), *container.get("args", [])]
    return cmd
