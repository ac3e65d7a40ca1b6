"""hosts.yaml: which hosts the SSH source collects from, and how to reach them safely.

Secrets never live in this file: a key passphrase is read from the environment variable named by
``key_passphrase_env``, keys and known_hosts are files. Keys such as ``password`` are rejected so a
secret pasted here by mistake fails loudly instead of being committed. See ``hosts.example.yaml``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mlops_assets.lib.contracts.raw import SOURCES
from mlops_assets.lib.storage.keys import validate_host
from mlops_assets.sources.commands import validate_container_name, validate_remote_path, validate_unit_name

FINGERPRINT_RE = re.compile(r"^SHA256:[A-Za-z0-9+/]{43}$")
SECRET_KEYS = ("password", "passphrase", "key_passphrase", "private_key", "secret", "token")


class GpuSampling(BaseModel):
    """Where the host's own nvidia-smi sampling log is (see sources/ssh.py for why it is a file)."""

    model_config = ConfigDict(extra="forbid")
    log_path: str = "/var/log/nvidia-smi/gpu.csv"
    interval_s: float = Field(default=10.0, gt=0, le=3600)

    @field_validator("log_path")
    @classmethod
    def _path(cls, v: str) -> str:
        return validate_remote_path(v)


class Timeouts(BaseModel):
    model_config = ConfigDict(extra="forbid")
    connect_s: float = Field(default=10.0, gt=0, le=300)
    auth_s: float = Field(default=15.0, gt=0, le=300)
    command_s: float = Field(default=300.0, gt=0, le=7200)


class HostConfig(BaseModel):
    """One collection target."""

    model_config = ConfigDict(extra="forbid")
    name: str
    address: str
    port: int = Field(default=22, ge=1, le=65535)
    user: str
    key_file: str | None = None
    key_passphrase_env: str | None = None
    use_agent: bool = False
    known_hosts: str = "~/.ssh/known_hosts"
    host_key_fingerprint: str | None = None
    sources: tuple[str, ...] = SOURCES
    gpu: GpuSampling = GpuSampling()
    timeouts: Timeouts = Timeouts()
    max_output_mb: float = Field(default=512.0, gt=0)
    journal_units: tuple[str, ...] = ()  # empty: the whole journal
    containers: tuple[str, ...] = ()  # empty: every container `docker ps -a` lists
    retired: bool = False

    @model_validator(mode="before")
    @classmethod
    def _no_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict):
            leaked = [k for k in data if str(k).lower() in SECRET_KEYS]
            if leaked:
                raise ValueError(
                    f"secrets never go in hosts.yaml (found {leaked}): put the key passphrase in an "
                    "environment variable and name it in `key_passphrase_env`"
                )
        return data

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return validate_host(v)

    @field_validator("host_key_fingerprint")
    @classmethod
    def _fingerprint(cls, v: str | None) -> str | None:
        if v is not None and not FINGERPRINT_RE.match(v):
            raise ValueError(
                f"host_key_fingerprint {v!r} must look like `ssh-keygen -lf` output: SHA256:<43 chars>"
            )
        return v

    @field_validator("sources")
    @classmethod
    def _sources(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [s for s in v if s not in SOURCES]
        if unknown:
            raise ValueError(f"unknown sources {unknown}; choose from {list(SOURCES)}")
        return v

    @field_validator("journal_units")
    @classmethod
    def _units(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(validate_unit_name(u) for u in v)

    @field_validator("containers")
    @classmethod
    def _containers(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(validate_container_name(c) for c in v)

    @model_validator(mode="after")
    def _auth(self) -> HostConfig:
        if not self.key_file and not self.use_agent:
            raise ValueError(
                f"host {self.name}: set `key_file` or `use_agent: true` (password login is not supported)"
            )
        return self

    def key_path(self) -> str | None:
        return os.path.expanduser(self.key_file) if self.key_file else None

    def known_hosts_path(self) -> str:
        return os.path.expanduser(self.known_hosts)

    def passphrase(self) -> str | None:
        """The key passphrase from the environment; a named but unset variable is an error."""
        if not self.key_passphrase_env:
            return None
        value = os.environ.get(self.key_passphrase_env)
        if value is None:
            raise RuntimeError(
                f"host {self.name}: key_passphrase_env names ${self.key_passphrase_env}, which is not set"
            )
        return value

    @property
    def max_output_bytes(self) -> int:
        return int(self.max_output_mb * 1024 * 1024)


class HostsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hosts: list[HostConfig]

    @model_validator(mode="after")
    def _unique(self) -> HostsFile:
        names = [h.name for h in self.hosts]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate host names: {dupes}")
        return self


def load_hosts(path: str | os.PathLike[str]) -> list[HostConfig]:
    """Parse and validate hosts.yaml; errors name the file and the offending field.

    A top-level ``defaults:`` mapping is merged under every host entry (host values win).
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"hosts file {p} not found: copy hosts.example.yaml and edit it")
    try:
        raw = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{p}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("hosts"), list):
        raise ValueError(f"{p}: expected a mapping with a `hosts:` list")
    defaults = raw.pop("defaults", {}) or {}
    if not isinstance(defaults, dict):
        raise ValueError(f"{p}: `defaults` must be a mapping")
    raw["hosts"] = [{**defaults, **h} if isinstance(h, dict) else h for h in raw["hosts"]]
    try:
        return HostsFile.model_validate(raw).hosts
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in err["loc"])
            lines.append(f"  {loc}: {err['msg']}")
        raise ValueError(f"{p}: invalid hosts file:\n" + "\n".join(lines)) from None
