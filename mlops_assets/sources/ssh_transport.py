"""SSH plumbing for the SSH LogSource: verified connections and bounded remote commands.

Safety: host keys are verified against the configured known_hosts file with ``RejectPolicy`` (an
unknown or changed key refuses the connection); ``host_key_fingerprint`` optionally pins the key to
``SHA256:…`` as ``ssh-keygen -lf`` prints it (then an unknown key is accepted only when it matches
the pin, and a known one must match it too). Commands are built only from validated names
(sources/commands.py). Connect, auth and per-command timeouts; every command runs under the host's
``timeout`` (commands.bounded), so a command that hangs is ended ON THE HOST, not merely abandoned;
stdout and stderr are read concurrently with a size cap; a non-zero exit status fails the fetch with
the fix.
"""

from __future__ import annotations

import base64
import hashlib
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import paramiko

from mlops_assets.sources.commands import KILL_GRACE_S, TIMED_OUT_STATUSES, bounded
from mlops_assets.sources.hosts import HostConfig

CHANNEL_WINDOW = 16 * 1024 * 1024  # large flow-control window: bulk output is not throttled per 2 MB
PARALLEL_CHANNELS = 8  # sshd's MaxSessions defaults to 10 channels per connection


class SshCollectionError(RuntimeError):
    """Collection from a host failed; the message says what to fix."""


class HostKeyError(SshCollectionError):
    pass


class SshAuthError(SshCollectionError):
    pass


class SshConnectError(SshCollectionError):
    pass


class RemoteCommandError(SshCollectionError):
    pass


class CommandTimeout(RemoteCommandError):
    pass


class OutputTooLarge(RemoteCommandError):
    pass


def fingerprint(key: paramiko.PKey) -> str:
    """``SHA256:<base64, no padding>`` exactly as ``ssh-keygen -lf`` prints it."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")


class _PinnedKeyPolicy(paramiko.MissingHostKeyPolicy):
    """Accept a key absent from known_hosts only when it matches the pinned fingerprint."""

    def __init__(self, pinned: str) -> None:
        self.pinned = pinned

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        got = fingerprint(key)
        if got != self.pinned:
            raise HostKeyError(
                f"host key of {hostname} is {got}, but hosts.yaml pins {self.pinned}: refusing"
            )


def connect(host: HostConfig) -> paramiko.SSHClient:
    """An authenticated client with a verified host key; every failure names its fix."""
    where = f"{host.user}@{host.address}:{host.port} ({host.name})"
    client = paramiko.SSHClient()
    known = host.known_hosts_path()
    try:
        client.load_host_keys(known)
    except FileNotFoundError:
        if not host.host_key_fingerprint:
            raise HostKeyError(
                f"{where}: known_hosts file {known} does not exist. FIX: verify the host's key out of band, "
                f"then `ssh-keyscan -p {host.port} {host.address} >> {known}` or set host_key_fingerprint"
            ) from None
    if host.host_key_fingerprint:
        client.set_missing_host_key_policy(_PinnedKeyPolicy(host.host_key_fingerprint))
    else:
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
    t = host.timeouts
    try:
        client.connect(
            hostname=host.address,
            port=host.port,
            username=host.user,
            key_filename=host.key_path(),
            passphrase=host.passphrase(),
            allow_agent=host.use_agent,
            look_for_keys=False,
            timeout=t.connect_s,
            banner_timeout=t.connect_s,
            auth_timeout=t.auth_s,
            channel_timeout=t.command_s,
        )
    except HostKeyError:
        client.close()
        raise
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise HostKeyError(
            f"{where}: host key CHANGED (got {fingerprint(exc.key)}, known_hosts has "
            f"{fingerprint(exc.expected_key)}): possible man-in-the-middle. FIX: confirm the new key with "
            f"the host's admin, then `ssh-keygen -R '[{host.address}]:{host.port}' -f {known}` and re-add it"
        ) from None
    except paramiko.AuthenticationException as exc:
        client.close()
        raise SshAuthError(
            f"{where}: authentication failed ({exc}). FIX: add the public key of {host.key_file or 'the agent'} "
            f"to ~{host.user}/.ssh/authorized_keys on the host, and check `user`"
        ) from None
    except paramiko.SSHException as exc:
        client.close()
        if "not found in known_hosts" in str(exc):
            raise HostKeyError(
                f"{where}: unknown host key ({exc}). FIX: verify its fingerprint out of band, then "
                f"`ssh-keyscan -p {host.port} {host.address} >> {known}` or set host_key_fingerprint"
            ) from None
        raise SshConnectError(f"{where}: SSH handshake failed: {exc}") from None
    except (TimeoutError, OSError) as exc:
        client.close()
        raise SshConnectError(
            f"{where}: cannot connect ({exc}). FIX: is the host up, sshd listening on port {host.port}, "
            "and the firewall open?"
        ) from None
    transport = client.get_transport()
    # Channel opens and small requests otherwise wait on Nagle + delayed ACK (~40 ms each).
    transport.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if host.host_key_fingerprint:
        got = fingerprint(transport.get_remote_server_key())
        if got != host.host_key_fingerprint:
            client.close()
            raise HostKeyError(f"{where}: host key is {got}, but hosts.yaml pins {host.host_key_fingerprint}")
    return client


@dataclass(frozen=True)
class CommandResult:
    command: str
    status: int
    stdout: bytes
    stderr: bytes


MISSING_TOOL_FIX = {
    "nvidia-smi": "install the NVIDIA driver utilities (nvidia-smi) on the host",
    "journalctl": "the host needs systemd's journalctl",
    "docker": "install the docker CLI on the host",
    "awk": "install awk (mawk/gawk) on the host",
    "timeout": "install coreutils (its `timeout` bounds every collection command on the host)",
}
TIMEOUT_MISSING_RE = re.compile(rb"\btimeout: (command )?not found|\bsh: (command )?not found")


def explain_failure(res: CommandResult) -> str:
    """A readable reason plus the fix for a failed remote command."""
    err = res.stderr.decode("utf-8", "replace").strip()[-800:]
    tool = res.command.split()[0] if "=" not in res.command.split()[0] else res.command.split()[1]
    if res.status == 127 or "command not found" in err or ("not found" in err.lower() and tool in err):
        return (
            f"`{tool}` is not installed or not on PATH. FIX: {MISSING_TOOL_FIX.get(tool, f'install {tool}')}"
        )
    if "permission denied" in err.lower() and "docker" in err.lower():
        return f"{err}. FIX: add the collection user to the `docker` group (usermod -aG docker USER)"
    if tool == "awk" and ("can't open" in err or "No such file" in err):
        return f"{err}. FIX: run the GPU sampler on the host so the sampling log exists"
    return f"exit status {res.status}: {err or '(no stderr)'}"


def run_command(client: paramiko.SSHClient, command: str, timeout_s: float, max_bytes: int) -> CommandResult:
    """Run one command on a new channel; stdout and stderr are drained concurrently under one cap.

    The host ends the command at ``timeout_s`` (commands.bounded); this side waits a little longer
    so it normally hears the host's verdict, and gives up on the channel after the KILL grace.
    """
    transport = client.get_transport()
    if transport is None or not transport.is_active():
        raise SshConnectError("SSH connection is closed")
    local_s = timeout_s + KILL_GRACE_S + 2.0
    chan = transport.open_session(window_size=CHANNEL_WINDOW, timeout=local_s)
    chan.settimeout(local_s)
    out: list[bytes] = []
    err: list[bytes] = []
    total = [0]
    failure: list[BaseException] = []
    lock = threading.Lock()

    started = time.monotonic()
    deadline = started + local_s

    def drain(recv: Callable[[int], bytes], sink: list[bytes]) -> None:
        try:
            while True:
                data = recv(1 << 20)
                if not data:
                    return
                if time.monotonic() > deadline:  # a command that trickles output forever
                    raise TimeoutError
                with lock:
                    total[0] += len(data)
                    sink.append(data)
                    if total[0] > max_bytes:
                        raise OutputTooLarge(
                            f"`{command[:120]}` produced more than {max_bytes // (1024 * 1024)} MiB. FIX: raise "
                            "max_output_mb in hosts.yaml or collect shorter windows"
                        )
        except TimeoutError:
            failure.append(
                CommandTimeout(
                    f"`{command[:120]}` did not finish within {timeout_s:g} s (timeouts.command_s), and "
                    f"the host did not report ending it within {local_s - timeout_s:g} s more"
                )
            )
        except BaseException as exc:  # noqa: BLE001 - handed to the caller thread below
            failure.append(exc)

    try:
        chan.exec_command(bounded(command, timeout_s))
        stderr_thread = threading.Thread(target=drain, args=(chan.recv_stderr, err), daemon=True)
        stderr_thread.start()
        drain(chan.recv, out)
        if failure:
            raise failure[0]
        stderr_thread.join(max(deadline - time.monotonic(), 0.1))
        if failure:
            raise failure[0]
        if stderr_thread.is_alive():
            raise CommandTimeout(f"`{command[:120]}` kept writing to stderr past {timeout_s:g} s")
        if not chan.status_event.wait(max(deadline - time.monotonic(), 0.1)):
            raise CommandTimeout(f"`{command[:120]}` sent no exit status within {timeout_s:g} s")
        if transport is not None and not transport.is_active() and not chan.exit_status_ready():
            raise SshConnectError(f"connection lost while running `{command[:120]}`")
        status, stderr = chan.recv_exit_status(), b"".join(err)
        # 124/137 before the timeout is the command's own status (e.g. killed by the OOM killer)
        if status in TIMED_OUT_STATUSES and time.monotonic() - started >= timeout_s:
            raise CommandTimeout(
                f"`{command[:120]}` did not finish within {timeout_s:g} s (timeouts.command_s); the host "
                f"ended it (exit {status})"
            )
        if status == 127 and TIMEOUT_MISSING_RE.search(stderr):
            said = stderr.decode("utf-8", "replace").strip()[-200:]
            raise RemoteCommandError(
                f"the host has no `timeout`/`sh` on the collector's PATH ({said}). "
                f"FIX: {MISSING_TOOL_FIX['timeout']}"
            )
        return CommandResult(command, status, b"".join(out), stderr)
    finally:
        chan.close()


def checked(res: CommandResult, host: str) -> bytes:
    if res.status == -1:
        raise SshConnectError(f"{host}: connection lost during `{res.command[:120]}` (no exit status)")
    if res.status != 0:
        raise RemoteCommandError(f"{host}: `{res.command[:160]}` failed: {explain_failure(res)}")
    if b"not seeing messages from other users and the system" in res.stderr:
        raise RemoteCommandError(
            f"{host}: journalctl only shows the user's own messages. FIX: add the collection user to the "
            "`systemd-journal` (or `adm`) group"
        )
    return res.stdout
