"""A bug report laid out exactly as nvidia-bug-report.sh writes it (prologue, appended files,
the kernel-message scan, dmesg, nvidia-smi --query), with an -q report taken from a real capture."""

from __future__ import annotations

from pathlib import Path

RULE = "_" * 44


def q_report(capture: Path) -> str:
    """The idle `nvidia-smi -q` section of an exporter capture (real driver output)."""
    lines = capture.read_text().split("\n")
    start = next(i for i, ln in enumerate(lines) if ln.startswith("==============NVSMI LOG"))
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("#" * 20))
    return "\n".join(lines[start:end])


def bug_report(q_text: str) -> str:
    return "\n".join(
        [
            RULE,
            "",
            "Start of NVIDIA bug report log file.  Please include this file, along",
            "with a detailed description of your problem, when reporting a graphics",
            "driver bug via the NVIDIA Linux forum (see forums.developer.nvidia.com)",
            "or by sending email to 'linux-bugs@nvidia.com'.",
            "",
            "nvidia-bug-report.sh Version: 35095307",
            "",
            "Date: Tue Jul 14 08:20:00 UTC 2026",
            "uname: Linux gpu-07 6.8.0-45-generic #45-Ubuntu SMP x86_64 GNU/Linux",
            "command line flags: ",
            "",
            RULE,
            "",
            "*** /etc/issue",
            "*** ls: -rw-r--r-- 1 root root 26 2024-08-27 13:27:06.000000000 +0000 /etc/issue",
            "Ubuntu 24.04.1 LTS \\n \\l",
            "",
            RULE,
            "",
            "Scanning kernel log files for NVIDIA kernel messages:",
            "",
            "  journalctl -b -0:",
            "Jul 14 08:10:00 gpu-07 kernel: [  600.000000] nvidia-modeset: Loading NVIDIA Kernel Mode Setting Driver",
            "Jul 14 08:15:30 gpu-07 kernel: [  930.250000] NVRM: Xid (PCI:0000:00:09): 79, pid=2231, name=python3, "
            "GPU has fallen off the bus.",
            "Jul 14 08:15:31 gpu-07 kernel: [  931.000000] NVRM: GPU 0000:00:09.0: GPU has fallen off the bus.",
            "",
            RULE,
            "",
            "dmesg:",
            "",
            "[    0.000000] Linux version 6.8.0-45-generic (buildd@lcy02-amd64-075)",
            "[  930.250000] NVRM: Xid (PCI:0000:00:09): 79, pid=2231, name=python3, GPU has fallen off the bus.",
            "[  932.100000] NVRM: GPU at PCI:0000:00:09: GPU-00000000-0000-0000-0000-000000000000",
            "",
            RULE,
            "",
            '/usr/bin/lspci -d "10de:*" -v -xxx',
            "",
            "00:09.0 3D controller: NVIDIA Corporation GH100 [H100 SXM5 80GB] (rev a1)",
            "\tSubsystem: NVIDIA Corporation Device 16c1",
            "",
            RULE,
            "",
            "/usr/bin/nvidia-smi --query",
            "",
            q_text,
            "",
            RULE,
            "",
            "End of NVIDIA bug report log file.",
            "",
        ]
    )
