"""The production image built by `make image`: lock-pinned, non-root, and nothing of the build host in it.

The build reads the host's CA bundle (TLS egress here is intercepted) in its builder stage only. These
tests look at what ships: every layer's command (`docker history`), the image config, and every file
of the exported image filesystem, for the host bundle, the certificates only the host trusts, and
secret-looking files or variables.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from .image_docker import built_image, docker, docker_unavailable
from .step_jobs import REPO_ROOT

pytestmark = [pytest.mark.image, pytest.mark.timeout(1800)]
HOST_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
BASE_IMAGE = os.getenv("BASE_IMAGE", "mlops-assets-base:bookworm")
SECRET_NAMES = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY|PRIVATE|CREDENTIAL|PIP_CERT|SSL_CERT|CA_BUNDLE")
SECRET_FILES = re.compile(
    r"(^|/)(id_rsa|id_ecdsa|id_ed25519|\.netrc|\.pypirc|\.git-credentials|build-ca\.crt)$"
)


@pytest.fixture(scope="module")
def image() -> str:
    reason = docker_unavailable()
    if reason:
        pytest.skip(reason)
    return built_image()


def _certificates(text: str) -> set[str]:
    return set(re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", text, re.S))


def test_image_runs_as_non_root_on_the_base_python(image: str) -> None:
    (info,) = json.loads(docker("image", "inspect", image).stdout)
    assert info["Config"]["User"] == "10001:10001"
    out = docker("run", "--rm", "--read-only", image, "sh", "-c", "id -u; readlink -f /opt/venv/bin/python")
    uid, python = out.stdout.split()
    assert uid == "10001"
    assert python.startswith("/usr/bin/python3.11"), python  # Debian's interpreter: uv downloaded none


# Runs inside the image: the lock's pins whose markers hold for the image's interpreter vs what is there.
COMPARE_WITH_LOCK = """
import importlib.metadata as m, json, sys
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name as canon
expected = {}
for line in sys.stdin:
    line = line.split("#")[0].strip()
    if line and not line.startswith("-"):
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate():
            expected[canon(req.name)] = str(req.specifier).removeprefix("==")
installed = {canon(d.metadata["Name"]): d.version for d in m.distributions()}
print(json.dumps({"expected": expected, "installed": installed}))
"""


def test_dependencies_are_exactly_the_lock(image: str) -> None:
    uv = REPO_ROOT / ".tools" / "bin" / "uv"
    assert uv.exists(), "run `make venv` first (it installs the pinned uv)"
    export = subprocess.run(
        [str(uv), "export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes", "--format", "requirements-txt"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    proc = subprocess.run(
        ["docker", "run", "-i", "--rm", "--read-only", image, "python", "-c", COMPARE_WITH_LOCK],
        input=export, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    expected, installed = result["expected"], result["installed"]
    assert installed.pop("mlops-assets") == "0.1.0"
    assert len(expected) > 100, "uv export listed too few packages"
    assert installed == expected, {
        "not installed": sorted(set(expected) - set(installed)),
        "not in the lock": sorted(set(installed) - set(expected)),
        "other version": {k: (installed[k], v) for k, v in expected.items() if installed.get(k, v) != v},
    }
    assert {"dagster", "dagster-k8s", "dagster-postgres", "mlflow", "scikit-learn"} <= set(installed)


def test_no_layer_of_the_final_image_holds_the_build_ca_or_a_secret(image: str) -> None:
    history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", image).stdout
    assert history.strip()
    for marker in ("build-ca", "PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", str(HOST_BUNDLE)):
        assert marker not in history, f"a layer of the final image mentions {marker}:\n{history}"
    (info,) = json.loads(docker("image", "inspect", image).stdout)
    env_names = [e.split("=", 1)[0] for e in info["Config"]["Env"] or []]
    assert not [n for n in env_names if SECRET_NAMES.search(n)], env_names

    # What the host trusts beyond Debian's own bundle (the egress CA here) must not be in any file.
    host_text = HOST_BUNDLE.read_text() if HOST_BUNDLE.exists() else ""
    base = docker("run", "--rm", BASE_IMAGE, "cat", "/etc/ssl/certs/ca-certificates.crt").stdout
    host_only = _certificates(host_text) - _certificates(base)
    # One base64 line from inside each host-only certificate identifies it in any encoding of the PEM.
    needles = [pem.splitlines()[3].encode() for pem in host_only]
    host_sha = hashlib.sha256(host_text.encode()).hexdigest() if host_text else None

    container = docker("create", image).stdout.strip()
    found: list[str] = []
    files = 0
    try:
        export = subprocess.Popen(["docker", "export", container], stdout=subprocess.PIPE)
        assert export.stdout is not None
        with tarfile.open(fileobj=export.stdout, mode="r|") as tar:
            for member in tar:
                if SECRET_FILES.search(member.name):
                    found.append(f"secret-looking file {member.name}")
                if not member.isfile() or member.size == 0:
                    continue
                files += 1
                fh = tar.extractfile(member)
                assert fh is not None
                data = fh.read()
                if host_sha and len(data) == len(host_text) and hashlib.sha256(data).hexdigest() == host_sha:
                    found.append(f"{member.name} is the host's CA bundle")
                found += [f"{member.name} holds a host-only CA certificate" for n in needles if n in data]
        assert export.wait(timeout=60) == 0
    finally:
        docker("rm", "-f", container, check=False)
    assert not found, found
    assert files > 10_000, f"the export listed only {files} files: the scan did not see the image"
