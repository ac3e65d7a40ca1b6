"""A real throwaway OpenSSH server on 127.0.0.1 whose PATH holds fake nvidia-smi/journalctl/docker
that replay a simulator host folder. Used by the ssh tests and by bench/bench_ssh.py.

Only the remote tools are fake; sshd, the SSH protocol, host keys, auth and the shell are real.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import yaml

SSHD = Path("/usr/sbin/sshd")
FAKEBIN = Path(__file__).resolve().parent / "sources" / "fakebin"
# The only real tools on the remote PATH (besides the fakes): what the collector's commands use.
SYSTEM_TOOLS = (
    *("awk", "stat", "tail", "date", "id", "cat", "sleep", "true", "uname", "head", "wc"),
    *("timeout", "sh"),  # every remote command runs as `timeout -k 5 N sh -c CMD` (commands.bounded)
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sshd_unavailable() -> str | None:
    """Why a local sshd cannot run here (None when it can)."""
    if not SSHD.exists():
        return f"{SSHD} is not installed (apt-get install openssh-server)"
    if not shutil.which("ssh-keygen"):
        return "ssh-keygen is not installed"
    return None


def keygen(path: Path, comment: str) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True
    )


class LocalSshd:
    """sshd -D on a free port; ``host_dir`` is the simulator folder the fake tools replay."""

    def __init__(self, workdir: Path, host_dir: Path, port: int | None = None) -> None:
        self.dir = workdir
        self.host_dir = host_dir
        self.port = port or free_port()
        self.bin = workdir / "bin"
        self.control = workdir / "control"
        self.host_key = workdir / "ssh_host_ed25519_key"
        self.user_key = workdir / "id_ed25519"
        self.known_hosts = workdir / "known_hosts"
        self.proc: subprocess.Popen[bytes] | None = None

    def prepare(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.control.mkdir(exist_ok=True)
        # A clean collector account: this machine's own ~/.bashrc (pyenv init...) is not the host's.
        (self.dir / "home").mkdir(exist_ok=True)
        if self.bin.exists():
            shutil.rmtree(self.bin)
        shutil.copytree(FAKEBIN, self.bin, ignore=shutil.ignore_patterns("__pycache__"))
        for tool in SYSTEM_TOOLS:  # a host's own docker/nvidia-smi must never leak into the tests
            real = shutil.which(tool, path="/usr/local/bin:/usr/bin:/bin")
            if real is None:
                raise RuntimeError(f"{tool} is not installed on this machine")
            (self.bin / tool).symlink_to(real)
        if not self.host_key.exists():
            keygen(self.host_key, "test-host-key")
            keygen(self.user_key, "test-user-key")
        shutil.copy(f"{self.user_key}.pub", self.dir / "authorized_keys")
        host_pub = Path(f"{self.host_key}.pub").read_text().split()
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {host_pub[0]} {host_pub[1]}\n")
        path = str(self.bin)
        (self.dir / "sshd_config").write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.host_key}\n"
            f"PidFile {self.dir / 'sshd.pid'}\nAuthorizedKeysFile {self.dir / 'authorized_keys'}\n"
            "StrictModes no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nUsePAM no\nLogLevel ERROR\nMaxSessions 64\n"
            "MaxStartups 200\nPrintMotd no\n"
            f"SetEnv HOME={self.dir / 'home'} PATH={path} FAKE_HOST_DIR={self.host_dir} FAKE_CONTROL={self.control} LC_ALL=C\n"
        )

    def start(self, timeout_s: float = 10.0) -> LocalSshd:
        self.prepare()
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)
        with open(self.dir / "sshd.log", "ab") as log:  # the child keeps its own copy of the fd
            self.proc = subprocess.Popen(
                [str(SSHD), "-D", "-e", "-f", str(self.dir / "sshd_config")], stdout=log, stderr=log
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"sshd exited with {self.proc.returncode}: {(self.dir / 'sshd.log').read_text()}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    if s.recv(64).startswith(b"SSH-"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"sshd did not answer on port {self.port} within {timeout_s} s")

    def stop(self) -> None:
        """Stop the listener AND every session it forked (a real host going down)."""
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None
        for pid in session_pids(self.port):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue

    def host_entry(self, name: str, **overrides: object) -> dict[str, object]:
        entry: dict[str, object] = {
            "name": name,
            "address": "127.0.0.1",
            "port": self.port,
            "user": os.environ.get("USER", "root"),
            "key_file": str(self.user_key),
            "known_hosts": str(self.known_hosts),
            "gpu": {"log_path": str(self.host_dir / "nvidia-smi.csv"), "interval_s": 10},
            "timeouts": {"connect_s": 5, "auth_s": 5, "command_s": 20},
        }
        entry.update(overrides)
        return entry

    def write_hosts_file(self, path: Path, entries: list[dict[str, object]]) -> Path:
        path.write_text(yaml.safe_dump({"hosts": entries}, sort_keys=False))
        return path


def session_pids(port: int) -> list[int]:
    """PIDs of sshd session processes serving connections to ``port`` (children outlive -D's parent)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if cmdline.startswith(b"sshd") or cmdline.startswith(str(SSHD).encode()):
            if _listens_or_serves(int(proc.name), port):
                pids.append(int(proc.name))
    return pids


def _listens_or_serves(pid: int, port: int) -> bool:
    """True when one of ``pid``'s sockets is a TCP connection on local ``port``."""
    try:
        inodes = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    except OSError:
        return False
    socks = {i[len("socket:[") : -1] for i in inodes if i.startswith("socket:[")}
    hexport = f":{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            f = row.split()
            if f[1].endswith(hexport) and f[9] in socks:
                return True
    return False


SIM_HOST = "gpu-node-01"


def simulate_host(out: Path, hours: float = 6, gpus: int = 2, seed: int = 7) -> Path:
    """One simulated 6-hour host under ``out``; returns ``out`` (the raw root).

    Every fault kind once needs more than 6 hours on one host (10 kinds, >= 380 minutes), so the host
    gets its share of a two-host schedule (fan failure and about half of the other kinds).
    """
    from mlops_assets.simulate import DEFAULT_START, default_schedule, simulate

    faults = [
        f
        for f in default_schedule([SIM_HOST, "gpu-node-02"], gpus, DEFAULT_START, hours, seed)
        if f.host == SIM_HOST
    ]
    simulate(out, hosts=1, gpus=gpus, hours=hours, seed=seed, faults=faults)
    return out


def start_or_skip(workdir: Path, host_dir: Path, port: int | None = None) -> LocalSshd:
    """Start a LocalSshd, or skip the calling test with the reason when sshd cannot run here."""
    import pytest

    reason = sshd_unavailable()
    if reason:
        pytest.skip(reason)
    try:
        return LocalSshd(workdir, host_dir, port=port).start()
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot start a local sshd: {exc}")
