"""Reboots: a clean shutdown, a minute or two of nothing, then a new boot with everything it logs.

What a real boot leaves, and what the detector must not mistake for trouble: a new journald boot id
(the cursor's ``b=`` and ``m=`` restart), the kernel banner and a hundred kernel lines in a few
seconds (ACPI BIOS errors, the NVIDIA module tainting the kernel, NVRM loading), the systemd start-up
burst (every unit started, "Startup finished in ..."), and every container starting at once.
While the host is off nothing is collected: no nvidia-smi rows, no journal.
"""

from __future__ import annotations

from mlops_assets.simulate import containers as ct
from mlops_assets.simulate.gpu import Workload
from mlops_assets.simulate.host import NS, HostLog
from mlops_assets.simulate.normal import mark_vllm_down, poisson_times

KERNEL = "6.8.0-49-generic"
DRIVER = "550.127.05"
UNITS = (
    ("systemd-journald.service", "Journal Service"),
    ("systemd-udevd.service", "Rule-based Manager for Device Events and Files"),
    ("systemd-networkd.service", "Network Configuration"),
    ("systemd-resolved.service", "Network Name Resolution"),
    ("chrony.service", "chrony, an NTP client/server"),
    ("nvidia-persistenced.service", "NVIDIA Persistence Daemon"),
    ("containerd.service", "containerd container runtime"),
    ("docker.service", "Docker Application Container Engine"),
    ("ssh.service", "OpenBSD Secure Shell server"),
    ("cron.service", "Regular background program processing daemon"),
    ("node-exporter.service", "Prometheus node exporter"),
)
MIN_APART_S = 6 * 3600


def reboot_times(host: HostLog, per_day: float) -> list[int]:
    """Reboot times at ``per_day`` (Poisson), at least 6 h apart and 1 h from the period's ends."""
    out: list[int] = []
    for ns in poisson_times(host, per_day / 24.0):
        if host.start_ns + 3600 * NS <= ns < host.end_ns - 3600 * NS and (
            not out or ns - out[-1] >= MIN_APART_S * NS
        ):
            out.append(ns)
    return out


def schedule_reboots(host: HostLog, per_day: float) -> list[tuple[int, int]]:
    """(shutdown, boot) times; registers the new boot ids and the off periods on ``host``.

    Called before any behaviour logs, so every record gets the boot id and monotonic time in effect.
    """
    plan = []
    for ns in reboot_times(host, per_day) if per_day > 0 else []:
        off = ns + 8 * NS
        boot = off + int(host.rng.integers(60, 150)) * NS
        host.down.append((off, boot))
        host.boots.append((boot, "".join(f"{int(b):02x}" for b in host.rng.integers(0, 256, size=16))))
        plan.append((ns, boot))
    host.boots.sort()
    return plan


def render_reboots(host: HostLog, wl: Workload, plan: list[tuple[int, int]]) -> None:
    """What each planned reboot logs, and no telemetry while the host is off."""
    for ns, boot in plan:
        _shutdown(host, ns)
        wl.missing[wl.mask(ns + 8 * NS, boot), :] = True
        _kernel_banner(host, boot)
        up = _systemd_startup(host, boot + 4 * NS)
        for i, name in enumerate(sorted(n for n, c in host.containers.items() if not c.removed)):
            ct.start(host, name, up + (i + 1) * 400_000_000)
        mark_vllm_down(wl, ns, up + (ct.VLLM_LOAD_S + 5) * NS)


def _sysd(host: HostLog, ns: int, msg: str, prio: int = 6) -> None:
    host.journal(ns, "systemd", msg, priority=prio, pid=1, transport="journal")


def _shutdown(host: HostLog, ns: int) -> None:
    host.journal(
        ns - 2 * NS,
        "systemd-logind",
        "The system will reboot now!",
        pid=911,
        unit="systemd-logind.service",
        transport="journal",
    )
    for i, name in enumerate(sorted(n for n, c in host.containers.items() if c.running and not c.removed)):
        ct.die(host, name, ns + i * 100_000_000, 0, signal=15)
    t = ns + NS
    for unit, desc in reversed(UNITS):
        _sysd(host, t, f"Stopping {unit} - {desc}...")
        _sysd(host, t + 200_000_000, f"Stopped {unit} - {desc}.")
        t += 300_000_000
    _sysd(host, t, "Reached target shutdown.target - System Shutdown.")
    host.journal(
        t + 500_000_000,
        "systemd-shutdown",
        "Syncing filesystems and block devices.",
        pid=1,
        transport="journal",
    )
    host.kernel(t + 900_000_000, "reboot: Restarting system", 5)


def _kernel_banner(host: HostLog, boot: int) -> None:
    rng = host.rng
    lines = [
        (
            5,
            f"Linux version {KERNEL} (buildd@lcy02-amd64-103) (x86_64-linux-gnu-gcc-13 (Ubuntu 13.2.0-23ubuntu4) "
            f"13.2.0, GNU ld (GNU Binutils for Ubuntu) 2.42) #49-Ubuntu SMP PREEMPT_DYNAMIC Mon Nov  4 02:06:24 UTC 2024",
        ),
        (6, f"Command line: BOOT_IMAGE=/boot/vmlinuz-{KERNEL} root=UUID={host.machine_id[:8]}-77aa ro quiet"),
        (6, "BIOS-provided physical RAM map:"),
        (6, "BIOS-e820: [mem 0x0000000000000000-0x000000000009ffff] usable"),
        (6, "DMI: Supermicro SYS-421GE-TNRT/X13DEG-OAD, BIOS 2.1 03/14/2024"),
        (6, f"tsc: Detected {int(rng.integers(2000, 3600))}.000 MHz processor"),
        (
            3,
            "ACPI BIOS Error (bug): Could not resolve symbol [\\_SB.PC00.PEG1.PEGP], AE_NOT_FOUND (20230628/dswload2-162)",
        ),
        (3, "ACPI Error: AE_NOT_FOUND, During name lookup/catalog (20230628/psobject-220)"),
        (6, "ACPI: Added _OSI(Module Device)"),
        (6, "PCI: Using configuration type 1 for base access"),
    ]
    lines += [
        (6, f"pci 0000:{host.pci[g][9:11].lower()}:00.0: [10de:2330] type 00 class 0x030200")
        for g in range(host.gpus)
    ]
    lines += [
        (4, "nvidia: loading out-of-tree module taints kernel."),
        (4, "nvidia: module verification failed: signature and/or required key missing - tainting kernel"),
        (6, "nvidia-nvlink: Nvlink Core is being initialized, major device number 234"),
        (5, f"NVRM: loading NVIDIA UNIX x86_64 Kernel Module  {DRIVER}  Tue Oct  8 03:22:07 UTC 2024"),
        (6, f"nvidia-modeset: Loading NVIDIA Kernel Mode Setting Driver for UNIX platforms  {DRIVER}"),
        (6, "EXT4-fs (nvme0n1p2): mounted filesystem with ordered data mode. Quota mode: none."),
        (6, "ixgbe 0000:3b:00.0 eno1: NIC Link is Up 10 Gbps, Flow Control: RX/TX"),
        (6, "IPv6: ADDRCONF(NETDEV_CHANGE): eno1: link becomes ready"),
    ]
    ns = boot
    for prio, msg in lines:
        host.kernel(ns, msg, prio)
        ns += int(rng.integers(1, 120)) * 1_000_000


def _systemd_startup(host: HostLog, ns: int) -> int:
    """The start-up burst; returns when multi-user.target is reached."""
    rng = host.rng
    _sysd(
        host,
        ns,
        "systemd 255.4-1ubuntu8.4 running in system mode (+PAM +AUDIT +SELINUX +APPARMOR +IMA +SECCOMP "
        "+GCRYPT -GNUTLS +OPENSSL +ACL +BLKID +CURL +KMOD +LIBCRYPTSETUP +TPM2 +ZSTD default-hierarchy=unified)",
    )
    _sysd(host, ns + 1_000_000, "Detected architecture x86-64.")
    _sysd(host, ns + 2_000_000, f"Hostname set to <{host.name}>.")
    t = ns + 300_000_000
    for unit, desc in UNITS:
        _sysd(host, t, f"Starting {unit} - {desc}...")
        t += int(rng.integers(50, 900)) * 1_000_000
        _sysd(host, t, f"Started {unit} - {desc}.")
    host.journal(t, "sshd", "Server listening on 0.0.0.0 port 22.", pid=host.next_pid(), unit="ssh.service")
    host.journal(
        t + 10_000_000,
        "chronyd",
        f"System clock wrong by {rng.uniform(0.2, 3.0):.6f} seconds",
        priority=4,
        pid=host.next_pid(),
        unit="chrony.service",
    )
    host.journal(
        t + 20_000_000,
        "nvidia-persistenced",
        f"Started (pid {host.next_pid()})",
        pid=1523,
        unit="nvidia-persistenced.service",
    )
    _sysd(host, t + 30_000_000, "Reached target multi-user.target - Multi-User System.")
    total = (t - ns) / NS + float(rng.uniform(8, 14))
    _sysd(
        host,
        t + 40_000_000,
        f"Startup finished in 3.204s (kernel) + {total:.3f}s (userspace) = {total + 3.2:.3f}s.",
    )
    return t + 50_000_000
