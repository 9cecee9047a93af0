"""A broker that stays alive without listening is reported with where it was stuck, then started once more.

Every broker here runs in its own temporary state dir on its own ports, never the shared local Kafka.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pjs.services.jvm import main_thread_stack
from pjs.services.kafka import LocalKafka, StalledStart
from pjs.services.ports import listener_pids
from pjs.services.processes import spawn_detached, terminate, wait_until
from support.local_kafka import link_stack_jars
from support.ports import free_port_below_ephemeral_range

SLEEPER = """\
public class Sleeper {
    public static void main(String[] args) throws Exception {
        System.out.println("ready");
        System.out.flush();
        Thread.sleep(60_000);
    }
}
"""


def test_a_running_jvm_shows_where_its_main_thread_is_and_keeps_running(tmp_path: Path) -> None:
    source = tmp_path / "Sleeper.java"
    source.write_text(SLEEPER)
    log_file = tmp_path / "jvm.log"
    pid = spawn_detached([_java(), str(source)], log_file)
    try:
        assert wait_until(lambda: "ready" in log_file.read_text(), timeout=60)
        stack = main_thread_stack(pid, log_file)
        assert stack.startswith('"main" ')
        assert "java.lang.Thread.sleep" in stack
        assert "at Sleeper.main" in stack
        os.kill(pid, 0)  # still alive: the dump does not stop it
    finally:
        terminate(pid)


def test_a_broker_not_listening_in_time_is_stopped_started_again_and_then_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kafka = LocalKafka(tmp_path, free_port_below_ephemeral_range(), free_port_below_ephemeral_range())
    link_stack_jars(kafka)
    with pytest.raises(StalledStart) as stalled:
        kafka.up(timeout=0.3)  # a JVM takes seconds to listen: both starts stall
    message = str(stalled.value)
    assert f"did not listen on port {kafka.port} within 0s" in message
    assert 'Its main thread was at:\n"main" ' in message
    first_report = capsys.readouterr().err
    assert "did not listen" in first_report and "starting the local Kafka once more" in first_report
    assert not kafka.is_running() and kafka.pid() is None
    assert not listener_pids(kafka.port)

    assert kafka.up() is True  # the formatted storage is kept: an ordinary start then succeeds
    try:
        assert listener_pids(kafka.port) == {kafka.pid()}
        assert kafka.root.stat().st_mode & 0o777 == 0o700  # the topic's segments: the owner's alone
    finally:
        kafka.down()


def _java() -> str:
    java = shutil.which("java")
    assert java is not None, "the local Kafka needs Java on PATH"
    return java
