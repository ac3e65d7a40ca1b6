"""SSH collection: 24 hourly partitions of one simulated 8-GPU host through a real local sshd.

Ours: SshLogSource.fetch + commit per hour = one verified connection per fetch, every command on
its own channel (several at once), output read in bulk and trimmed with byte-level scans.
Baseline (the shape of common public examples): a new SSHClient connection per command, commands
run one after another, stdout iterated line by line and filtered per line in Python. Both collect
the same bytes (checked), from the same sshd and the same fake remote tools, in the same run.
Target: >= 5x the baseline's MB/s.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from run import record  # noqa: E402

from mlops_assets.lib.contracts.raw import RawBundle  # noqa: E402
from mlops_assets.simulate import DEFAULT_START, simulate  # noqa: E402
from mlops_assets.sources import commands as cmd  # noqa: E402
from mlops_assets.sources.hosts import HostConfig  # noqa: E402
from mlops_assets.sources.ssh import SshLogSource, container_names  # noqa: E402
from mlops_assets_tests.sshd import SIM_HOST, LocalSshd, sshd_unavailable  # noqa: E402

HOURS = 24
HOUR = timedelta(hours=1)


def bundle_bytes(bundle: RawBundle) -> int:
    return sum(len(b) for members in bundle.values() for b in members.values())


def ours(src: SshLogSource) -> tuple[list[RawBundle], float]:
    t0 = time.perf_counter()
    bundles = []
    for h in range(HOURS):
        start = DEFAULT_START + h * HOUR
        bundle = src.fetch(SIM_HOST, start, start + HOUR)
        src.commit(SIM_HOST, start, start + HOUR, bundle)
        bundles.append(bundle)
    return bundles, time.perf_counter() - t0


def _naive_run(cfg: HostConfig, command: str) -> tuple[list[str], str]:
    """One connection per command, read line by line (paramiko's file iteration)."""
    import paramiko

    client = paramiko.SSHClient()
    client.load_host_keys(cfg.known_hosts_path())
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        cfg.address,
        port=cfg.port,
        username=cfg.user,
        key_filename=cfg.key_path(),
        look_for_keys=False,
        allow_agent=False,
        timeout=10,
    )
    try:
        _, stdout, stderr = client.exec_command(command)
        lines = [line for line in stdout]
        err = stderr.read().decode("utf-8", "replace")
        if stdout.channel.recv_exit_status() != 0:
            raise RuntimeError(f"{command}: {err}")
        return lines, err
    finally:
        client.close()


def baseline(cfg: HostConfig) -> tuple[list[RawBundle], float]:
    import json

    t0 = time.perf_counter()
    bundles = []
    for h in range(HOURS):
        start = DEFAULT_START + h * HOUR
        end = start + HOUR
        lo_us, hi_us = int(start.timestamp() * 1e6), int(end.timestamp() * 1e6)
        b: RawBundle = {s: {} for s in ("gpu", "journal", "kernel", "docker_logs", "docker_events")}
        gpu, _ = _naive_run(cfg, cmd.gpu_window(cfg.gpu.log_path, start, end))
        b["gpu"]["nvidia-smi.csv"] = "".join(gpu).encode()
        for source, member, kernel in (("journal", "journal.json", False), ("kernel", "kernel.json", True)):
            lines, _ = _naive_run(cfg, cmd.journal(start, end, None, kernel))
            kept = [ln for ln in lines if lo_us <= int(json.loads(ln)["__REALTIME_TIMESTAMP"]) < hi_us]
            b[source][member] = "".join(kept).encode()
        events, _ = _naive_run(cfg, cmd.docker_events(start, end))
        b["docker_events"]["events.json"] = "".join(
            ln for ln in events if lo_us * 1000 <= int(json.loads(ln)["timeNano"]) < hi_us * 1000
        ).encode()
        ps, _ = _naive_run(cfg, cmd.docker_ps())
        b["docker_events"]["ps.json"] = "".join(ps).encode()
        lo_s, hi_s = start.strftime("%Y-%m-%dT%H:%M:%S"), end.strftime("%Y-%m-%dT%H:%M:%S")
        for name in container_names(b["docker_events"]["ps.json"], SIM_HOST):
            out, err = _naive_run(cfg, cmd.docker_logs(name, start, end))
            b["docker_logs"][f"{name}.stdout"] = "".join(ln for ln in out if lo_s <= ln[:19] < hi_s).encode()
            b["docker_logs"][f"{name}.stderr"] = "".join(
                ln + "\n" for ln in err.splitlines() if lo_s <= ln[:19] < hi_s
            ).encode()
        bundles.append(b)
    return bundles, time.perf_counter() - t0


def run() -> list[dict]:
    reason = sshd_unavailable()
    if reason:
        raise RuntimeError(f"bench_ssh needs a local OpenSSH server: {reason}")
    work = Path(tempfile.mkdtemp(prefix="bench-ssh-"))
    try:
        simulate(work / "raw", hosts=1, gpus=8, hours=HOURS, seed=7)
        server = LocalSshd(work / "sshd", work / "raw" / SIM_HOST).start()
        try:
            hosts = server.write_hosts_file(work / "hosts.yaml", [server.host_entry(SIM_HOST)])
            src = SshLogSource.from_hosts_file(hosts, cursor_dir=work / "cursors")
            base_bundles, base_s = baseline(src.config(SIM_HOST))
            our_bundles, our_s = ours(src)
        finally:
            server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if our_bundles != base_bundles:
        raise RuntimeError("ours and the baseline collected different bytes: the comparison is void")
    mb = sum(bundle_bytes(b) for b in our_bundles) / 1e6
    return [
        record(
            "ssh_ingest_24h_8gpu",
            round(mb, 3),
            our_s,
            "MB/s",
            mb / base_s,
            ">= 5x baseline",
            partitions=HOURS,
            baseline_seconds=round(base_s, 3),
        ),
    ]


if __name__ == "__main__":
    import json as _json

    print(_json.dumps(run(), indent=2))
