"""Whole processes, the way a plant sees them: ``linewatch run`` vs one ``linewatch worker``.

Each repeat runs ``linewatch run`` over the events as a file, then produces the same events to
fresh topics and starts one ``linewatch worker`` in an empty folder; the worker's time runs from
its start until its consumer group's lag is 0 (every offset committed), start-up, imports and the
group join included. Both are fresh processes in empty folders (a fresh store each).

Printed per repeat and as the median of the repeats:

- the throughput ratio, ``run``'s seconds over the worker's (1.0: as fast);
- the CPU ratio, ``run``'s CPU seconds over the worker process's, and over the worker's plus the
  broker's (the broker runs on the same cores: on a shared machine wall time depends on what else
  runs, CPU time much less);
- start-up: seconds from the worker's process start to its first consumed event, and from the
  moment the broker answered it to that event, and the worker's CPU seconds then (the worker logs
  them, ``streams/kafka/startup.py``);
- the load average before and after (the machine may be shared).

The lag is polled every 0.2 s with one admin client, so the worker's figure can be up to 0.2 s
late. Used by ``bench/bench_kafka.py --whole-only``.
"""

from __future__ import annotations

import os
import re
import resource
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaAdminClient
from kafka.errors import CoordinatorNotAvailableError, NotCoordinatorError

from tests.worker_harness import BOOTSTRAP, LINEWATCH, KafkaHarness, event_key, free_port

__all__ = [
    "Whole",
    "brokers_cpu_s",
    "cpu_s",
    "print_wholes",
    "print_worker_starts",
    "whole_process",
    "worker_start",
]

_TICK = os.sysconf("SC_CLK_TCK")
_FIRST = re.compile(r"first event consumed ([0-9.]+) s after the process started, ([0-9.]+) s")
_FIRST_CPU = re.compile(r"first event consumed .* \(CPU ([0-9.]+) s\)")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def brokers_cpu_s() -> float:
    """CPU seconds of every local Kafka broker process (``kafka.Kafka`` JVMs)."""
    total = 0.0
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if b"kafka.Kafka" in cmdline.read_bytes():
                total += cpu_s(int(cmdline.parent.name))
        except OSError:
            continue
    return total


def _absolute_pythonpath(env: dict[str, str]) -> dict[str, str]:
    """``env`` with ``PYTHONPATH``'s entries made absolute: both processes run in folders of
    their own, where ``PYTHONPATH=.`` would name that folder and the installed code would run
    instead of this checkout's."""
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(str(Path(p).resolve()) for p in paths)
    return env


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Whole:
    """One repeat: ``linewatch run`` and one worker on the same events."""

    run_s: float
    run_cpu_s: float
    worker_s: float
    worker_cpu_s: float
    broker_cpu_s: float
    first_event_s: float
    """Process start to the first consumed event (NaN: the worker did not log it)."""
    after_broker_s: float
    """The broker answering the worker to its first consumed event (NaN: not logged)."""
    first_event_cpu_s: float
    """The worker's CPU seconds (all threads) at its first consumed event (NaN: not logged)."""
    load: tuple[float, float]
    """1-minute load average before and after."""

    @property
    def ratio(self) -> float:
        """Worker throughput over ``linewatch run``'s (1.0: as fast)."""
        return self.run_s / self.worker_s

    @property
    def cpu_ratio(self) -> float:
        """``run``'s CPU seconds over the worker process's."""
        return self.run_cpu_s / self.worker_cpu_s

    @property
    def cpu_ratio_with_broker(self) -> float:
        """``run``'s CPU seconds over the worker's plus the broker's."""
        return self.run_cpu_s / (self.worker_cpu_s + self.broker_cpu_s)


def _run(tmp: Path, source: Path) -> tuple[float, float]:
    """Seconds and CPU seconds of ``linewatch run`` over ``source`` in an empty folder."""
    run_dir = tmp / "whole-run"
    run_dir.mkdir()
    cpu0, start = _children_cpu_s(), time.monotonic()
    subprocess.run(
        [LINEWATCH, "run", "--source", str(source), "--store", f"chdb://{run_dir / 'store'}"],
        cwd=run_dir,
        env=_absolute_pythonpath(dict(os.environ)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,  # 1: some records dead-lettered, still a whole run
    )
    return time.monotonic() - start, _children_cpu_s() - cpu0


def _committed(admin: KafkaAdminClient, harness: KafkaHarness) -> int:
    try:
        offsets = admin.list_group_offsets(harness.group).get(harness.group, {})
    except (CoordinatorNotAvailableError, NotCoordinatorError):
        return 0
    topic = harness.topics["events"]
    return sum(max(m.offset, 0) for tp, m in offsets.items() if tp.topic == topic)


def _first_event(log: Path) -> tuple[float, float, float]:
    text = log.read_text(errors="replace")
    found, cpu = _FIRST.search(text), _FIRST_CPU.search(text)
    cpu_s = float(cpu.group(1)) if cpu is not None else float("nan")
    if found is None:
        return float("nan"), float("nan"), cpu_s
    return float(found.group(1)), float(found.group(2)), cpu_s


def _worker(tmp: Path, events: list[bytes]) -> tuple[float, float, float, Path]:
    """Seconds, worker CPU and broker CPU seconds of one worker until its group's lag is 0."""
    harness = KafkaHarness(tmp / "whole", partitions=6)
    (tmp / "whole").mkdir()
    harness.create_topics()
    harness.produce((event_key(p), p) for p in events)
    worker_dir = tmp / "whole-worker"
    worker_dir.mkdir()
    env = _absolute_pythonpath(harness.env(worker_dir / "store", free_port()))
    env["LINEWATCH_WORKER__DATA_DIR"] = str(worker_dir / "faust")
    env.pop("LINEWATCH_WORKER__TAKE_WINDOW_S", None)  # the default, as a plant starts it
    log = tmp / "whole-worker.log"
    admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    broker0 = brokers_cpu_s()
    with log.open("wb") as out:
        start = time.monotonic()
        proc = subprocess.Popen(
            [LINEWATCH, "worker"], cwd=worker_dir, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = start + 900
        while time.monotonic() < deadline:
            if _committed(admin, harness) >= len(events):
                now = time.monotonic() - start
                return now, cpu_s(proc.pid), brokers_cpu_s() - broker0, log
            if proc.poll() is not None:
                raise RuntimeError(f"the worker exited with {proc.returncode}: see {log}")
            time.sleep(0.2)
        raise RuntimeError("the worker's lag never reached 0")
    finally:
        admin.close()
        proc.terminate()
        proc.wait(timeout=60)


def whole_process(tmp: Path, events: list[bytes]) -> Whole:
    """One repeat in ``tmp`` (an empty folder)."""
    source = tmp / "whole-events.jsonl"
    source.write_bytes(b"\n".join(events) + b"\n")
    load0 = os.getloadavg()[0]
    run_s, run_cpu = _run(tmp, source)
    worker_s, worker_cpu, broker_cpu, log = _worker(tmp, events)
    first, after_broker, first_cpu = _first_event(log)
    load = (load0, os.getloadavg()[0])
    return Whole(
        run_s, run_cpu, worker_s, worker_cpu, broker_cpu, first, after_broker, first_cpu, load
    )


def _line(whole: Whole) -> str:
    return (
        f"run {whole.run_s:5.1f} s ({whole.run_cpu_s:5.1f} CPU s), worker to lag 0 "
        f"{whole.worker_s:5.1f} s ({whole.worker_cpu_s:5.1f} CPU s, broker "
        f"{whole.broker_cpu_s:4.1f}); first event {whole.first_event_s:.2f} s after start, "
        f"{whole.after_broker_s:.2f} s after the broker answered, CPU "
        f"{whole.first_event_cpu_s:.2f} s then; load "
        f"{whole.load[0]:.1f} -> {whole.load[1]:.1f}\n"
        f"      throughput ratio {whole.ratio:.2f}, CPU ratio {whole.cpu_ratio:.2f} "
        f"({whole.cpu_ratio_with_broker:.2f} with the broker's CPU)"
    )


def print_wholes(wholes: list[Whole], n: int) -> None:
    """Each repeat, then the medians."""
    print(f"  whole process, {n} events, {os.cpu_count()} cores (run vs one worker):")
    for k, whole in enumerate(wholes, 1):
        print(f"    {k}: {_line(whole)}")

    def med(values: list[float]) -> float:
        return statistics.median(values)

    ratios = ", ".join(f"{w.ratio:.2f}" for w in wholes)
    loads = ", ".join(f"{w.load[0]:.1f}-{w.load[1]:.1f}" for w in wholes)
    print(
        f"  WHOLE-PROCESS THROUGHPUT RATIO (run's seconds / the worker's, start to lag 0): "
        f"median {med([w.ratio for w in wholes]):.2f} of {len(wholes)} ({ratios}); "
        f"1-min load {loads}"
    )
    print(
        f"  median of {len(wholes)}: throughput ratio {med([w.ratio for w in wholes]):.2f}, "
        f"CPU ratio {med([w.cpu_ratio for w in wholes]):.2f} "
        f"({med([w.cpu_ratio_with_broker for w in wholes]):.2f} with the broker), first event "
        f"{med([w.first_event_s for w in wholes]):.2f} s after start, "
        f"{med([w.after_broker_s for w in wholes]):.2f} s after the broker answered, CPU "
        f"{med([w.first_event_cpu_s for w in wholes]):.2f} s then"
    )


@dataclass
class WorkerStart:
    """One worker alone over the events (no ``linewatch run``): its start and its time to lag 0."""

    worker_s: float
    worker_cpu_s: float
    first_event_s: float
    after_broker_s: float
    first_event_cpu_s: float
    load: float


def worker_start(tmp: Path, events: list[bytes]) -> WorkerStart:
    """One worker in ``tmp`` (an empty folder) over ``events``, as :func:`whole_process`
    starts it."""
    load = os.getloadavg()[0]
    worker_s, worker_cpu, _, log = _worker(tmp, events)
    first, after_broker, first_cpu = _first_event(log)
    return WorkerStart(worker_s, worker_cpu, first, after_broker, first_cpu, load)


def print_worker_starts(starts: list[WorkerStart], n: int) -> None:
    """Each worker, then the medians."""
    print(f"  one worker alone, {n} events, {os.cpu_count()} cores:")
    for k, w in enumerate(starts, 1):
        print(
            f"    {k}: first event {w.first_event_s:.2f} s after start, {w.after_broker_s:.2f} s "
            f"after the broker answered, CPU {w.first_event_cpu_s:.2f} s then; lag 0 after "
            f"{w.worker_s:.2f} s ({w.worker_cpu_s:.2f} CPU s); load {w.load:.1f}"
        )

    def med(values: list[float]) -> float:
        return statistics.median(values)

    print(
        f"  median of {len(starts)}: first event {med([w.first_event_s for w in starts]):.2f} s "
        f"after start, {med([w.after_broker_s for w in starts]):.2f} s after the broker "
        f"answered, CPU {med([w.first_event_cpu_s for w in starts]):.2f} s then; lag 0 after "
        f"{med([w.worker_s for w in starts]):.2f} s "
        f"({med([w.worker_cpu_s for w in starts]):.2f} CPU s)"
    )
