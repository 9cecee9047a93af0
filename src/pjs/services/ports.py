"""Which local ports a service may use, and which process listens on one (no connecting to find out)."""

from __future__ import annotations

from pathlib import Path

import psutil

from pjs.services.processes import ServiceError, log_tail, pid_is_running, wait_until

EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_RELEASE_GRACE_SECONDS = 10.0


def ephemeral_ports(range_file: Path = EPHEMERAL_RANGE_FILE) -> range | None:
    """The ports the kernel hands out as clients' source ports; None where the machine does not say."""
    try:
        low, high = (int(bound) for bound in range_file.read_text().split()[:2])
    except (OSError, ValueError):
        return None
    return range(low, high + 1)


def require_outside_ephemeral_range(port: int, service: str, setting: str, ephemeral: range | None) -> None:
    """Refuse a local service port the kernel may give a client as its source port.

    A client retrying a port with nothing listening can be handed that very port and connect to itself;
    the port then stays taken (ESTABLISHED, then TIME-WAIT) and the service cannot bind it again.
    """
    if ephemeral is None or port not in ephemeral:
        return
    raise ServiceError(
        f"the local {service} port {port} lies inside this machine's ephemeral port range "
        f"{ephemeral.start}-{ephemeral.stop - 1} ({EPHEMERAL_RANGE_FILE}), where a client can be handed "
        f"it as its own source port and connect to itself; set {setting} to a port below {ephemeral.start}"
    )


def listener_pids(port: int) -> set[int | None]:
    """The pids listening on a TCP port on any address (None: a listener whose owner we may not see)."""
    return {
        connection.pid
        for connection in psutil.net_connections(kind="tcp")
        if connection.status == psutil.CONN_LISTEN and connection.laddr and connection.laddr.port == port
    }


def require_free_port(host: str, port: int, service: str, alternative: str) -> None:
    """Refuse to start when something already listens on the port, naming who when we can see it.

    A process just killed may hold its listening socket for a moment while it exits (its threads are
    torn down one by one), so a held port is given a short grace to come free before we refuse.
    """
    if wait_until(lambda: not listener_pids(port), timeout=_RELEASE_GRACE_SECONDS):
        return
    owners = listener_pids(port)
    who = ", ".join(describe_process(pid) for pid in sorted(owners, key=lambda pid: pid or 0))
    raise ServiceError(
        f"port {port} on {host} is already in use (by {who}), so the local {service} cannot start; "
        f"stop whatever listens there (e.g. `ss -ltnp 'sport = :{port}'`) or {alternative}"
    )


def describe_process(pid: int | None) -> str:
    """`pid 123 (java)`, or what we can say when the owner is hidden from us."""
    if pid is None:
        return "a process of another user"
    try:
        return f"pid {pid} ({psutil.Process(pid).name()})"
    except psutil.Error:
        return f"pid {pid}"


def wait_for_own_listener(
    service: str, pid: int, port: int, cmdline_marker: str, log_file: Path, log_start: int, timeout: float
) -> None:
    """Return once the process we started is alive and is the one listening on `port`; else say why.

    An open port alone proves nothing: another process may hold it, or ours may have exited after a
    moment (a bind failure, a locked data directory) while a stale listener answers.
    """

    def settled() -> bool:
        return not pid_is_running(pid, cmdline_marker) or pid in listener_pids(port)

    wait_until(settled, timeout)
    owners = listener_pids(port)
    if pid in owners and pid_is_running(pid, cmdline_marker):
        return
    others = ", ".join(describe_process(owner) for owner in owners if owner != pid)
    held = f"; port {port} is held by {others}" if others else ""
    if not pid_is_running(pid, cmdline_marker):
        what = f"exited before listening on port {port}{held}"
    else:
        what = f"did not listen on port {port} within {timeout:.0f}s{held}"
    raise ServiceError(
        f"the local {service} process (pid {pid}) {what}. The end of its log ({log_file}):\n"
        f"{log_tail(log_file, log_start)}"
    )
