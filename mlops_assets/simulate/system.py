"""Background journal of a healthy node: cron, ssh sessions, sudo, timers, daemons' benign
warnings, and the odd kernel message. Rates are per hour; many follow the working day."""

from __future__ import annotations

import numpy as np

from mlops_assets.simulate.containers import ts_rfc
from mlops_assets.simulate.host import NS, HostLog
from mlops_assets.simulate.normal import USERS, daily, daytime, poisson_times


def _minutes(host: HostLog) -> np.ndarray:
    return np.arange(host.start_ns, host.end_ns, 60 * NS)


def cron(host: HostLog) -> None:
    first = host.start_ns - host.start_ns % (600 * NS) + 600 * NS
    for ns in range(first, host.end_ns, 600 * NS):
        pid = host.next_pid()
        host.journal(
            ns,
            "CRON",
            "pam_unix(cron:session): session opened for user root(uid=0) by root(uid=0)",
            unit="cron.service",
            pid=pid,
        )
        host.journal(
            ns + 2_000_000,
            "CRON",
            "(root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
            unit="cron.service",
            pid=pid,
        )
        host.journal(
            ns + 80_000_000,
            "CRON",
            "pam_unix(cron:session): session closed for user root",
            unit="cron.service",
            pid=pid,
        )
    for ns in daily(host, 0.0, 2):
        for i, msg in enumerate(
            (
                "Starting logrotate.service - Rotate log files...",
                "logrotate.service: Deactivated successfully.",
                "Finished logrotate.service - Rotate log files.",
            )
        ):
            host.journal(ns + i * 400_000_000, "systemd", msg, pid=1, transport="journal")
    for ns in daily(host, 6.0, 3600):
        host.journal(
            ns,
            "systemd",
            "Starting apt-daily.service - Daily apt download activities...",
            pid=1,
            transport="journal",
        )
        host.journal(
            ns + 9 * NS, "systemd", "apt-daily.service: Deactivated successfully.", pid=1, transport="journal"
        )
    for ns in daily(host, 1.5, 300):  # backup script prints coloured status: MESSAGE becomes a byte array
        host.journal(
            ns,
            "backup.sh",
            f"\x1b[1;32m[OK]\x1b[0m backup of /srv/postgres finished in {int(host.rng.integers(30, 90))}s",
            unit="backup.service",
            pid=host.next_pid(),
            transport="stdout",
        )


def ssh_sessions(host: HostLog) -> None:
    rng = host.rng
    for ns in poisson_times(host, 1.6, 0.1 + daytime(_minutes(host))):
        user = USERS[int(rng.integers(0, len(USERS)))]
        ip, port, pid = (
            f"10.20.4.{int(rng.integers(10, 60))}",
            int(rng.integers(40000, 65000)),
            host.next_pid(),
        )
        session = int(rng.integers(100, 9000))
        fp = "".join(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[int(i)]
            for i in rng.integers(0, 64, 43)
        )
        host.journal(
            ns,
            "sshd",
            f"Accepted publickey for {user} from {ip} port {port} ssh2: ED25519 SHA256:{fp}",
            unit="ssh.service",
            pid=pid,
        )
        host.journal(
            ns + 20_000_000,
            "sshd",
            f"pam_unix(sshd:session): session opened for user {user}(uid=1001) by {user}(uid=0)",
            unit="ssh.service",
            pid=pid,
        )
        host.journal(
            ns + 40_000_000,
            "systemd-logind",
            f"New session {session} of user {user}.",
            unit="systemd-logind.service",
            pid=911,
            transport="journal",
        )
        if rng.random() < 0.3:
            host.journal(
                ns + int(rng.integers(20, 300)) * NS,
                "sudo",
                f"   {user} : TTY=pts/{int(rng.integers(0, 6))} ; PWD=/home/{user} ; "
                "USER=root ; COMMAND=/usr/bin/nvidia-smi",
                pid=host.next_pid(),
                uid=1001,
            )
        end = ns + int(rng.integers(5, 120)) * 60 * NS
        host.journal(
            end,
            "sshd",
            f"Received disconnect from {ip} port {port}:11: disconnected by user",
            unit="ssh.service",
            pid=pid,
        )
        host.journal(
            end + 1_000_000,
            "sshd",
            f"Disconnected from user {user} {ip} port {port}",
            unit="ssh.service",
            pid=pid,
        )
        host.journal(
            end + 3_000_000,
            "sshd",
            f"pam_unix(sshd:session): session closed for user {user}",
            unit="ssh.service",
            pid=pid,
        )
        host.journal(
            end + 9_000_000,
            "systemd-logind",
            f"Removed session {session}.",
            unit="systemd-logind.service",
            pid=911,
            transport="journal",
        )
    for ns in poisson_times(host, 0.08, 0.2 + daytime(_minutes(host))):  # a typo'd password
        user, port, pid = (
            USERS[int(rng.integers(0, len(USERS)))],
            int(rng.integers(40000, 65000)),
            host.next_pid(),
        )
        host.journal(
            ns,
            "sshd",
            f"Failed password for {user} from 10.20.3.14 port {port} ssh2",
            priority=5,
            unit="ssh.service",
            pid=pid,
        )
        host.journal(
            ns + 3 * NS,
            "sshd",
            f"Connection closed by authenticating user {user} 10.20.3.14 port {port} [preauth]",
            unit="ssh.service",
            pid=pid,
        )
    for ns in poisson_times(host, 0.6):  # internet background scanners, one probe at a time
        user, ip = (
            ("admin", "test", "ubuntu", "oracle")[int(rng.integers(0, 4))],
            f"198.51.100.{int(rng.integers(1, 250))}",
        )
        port, pid = int(rng.integers(30000, 65000)), host.next_pid()
        host.journal(
            ns, "sshd", f"Invalid user {user} from {ip} port {port}", priority=6, unit="ssh.service", pid=pid
        )
        host.journal(
            ns + 2 * NS,
            "sshd",
            f"Connection closed by invalid user {user} {ip} port {port} [preauth]",
            unit="ssh.service",
            pid=pid,
        )


def daemon_noise(host: HostLog) -> None:
    rng = host.rng
    for ns in poisson_times(host, 0.05):
        host.journal(
            ns,
            "systemd-resolved",
            "Using degraded feature set UDP instead of UDP+EDNS0 for DNS server 10.20.0.2.",
            priority=4,
            unit="systemd-resolved.service",
            pid=802,
            transport="journal",
        )
    for ns in poisson_times(host, 0.04):  # persistenced briefly loses its RPC socket and reconnects
        pid = 1523
        host.journal(
            ns,
            "nvidia-persistenced",
            "Socket closed, restarting RPC listener",
            priority=4,
            unit="nvidia-persistenced.service",
            pid=pid,
        )
        host.journal(
            ns + 80_000_000,
            "nvidia-persistenced",
            "Local RPC services initialized",
            unit="nvidia-persistenced.service",
            pid=pid,
        )
    for ns in poisson_times(host, 0.5):  # tqdm progress bar with \r: journald stores MESSAGE as bytes
        n = int(rng.integers(1, 31))
        host.journal(
            ns,
            "python3",
            f"Syncing shards: {100 * n // 30}%|{'#' * (n // 3):<10}| {n}/30\r",
            unit="model-sync.service",
            pid=host.next_pid(),
            transport="stdout",
            uid=1003,
        )
    for ns in poisson_times(host, 0.03):
        host.journal(
            ns,
            "python3",
            None,
            priority=6,
            unit="model-sync.service",
            pid=host.next_pid(),
            transport="stdout",
        )
    for ns in poisson_times(host, 0.04):
        a = int(rng.integers(2501, 4000))
        host.kernel(
            ns,
            f"perf: interrupt took too long ({a} > {a - int(rng.integers(1, 400))}), lowering kernel.perf_event_max_sample_rate to {int(rng.integers(40000, 79000))}",
            4,
        )
    for ns in poisson_times(host, 0.15):
        host.kernel(
            ns,
            f'audit: type=1400 audit({ns // NS}.{ns // 10**6 % 1000:03d}:{int(rng.integers(100, 999))}): apparmor="DENIED" '
            'operation="open" class="file" profile="snap.lxd.activate" name="/proc/sys/vm/max_map_count" pid=1 comm="snap-exec" '
            'requested_mask="r" denied_mask="r" fsuid=0 ouid=0',
            5,
        )
    for ns in poisson_times(host, 0.1):
        host.journal(
            ns,
            "dockerd",
            f'time="{ts_rfc(ns)}" level=warning msg="Health check for container {host.containers["postgres"].id} '
            'error: context deadline exceeded"',
            priority=4,
            unit="docker.service",
            pid=1187,
            transport="stdout",
        )
