"""``bench/bench_pipeline.py``'s stage table on a graph with a static batch of 1.

The runners give such a graph micro-batches of ``inference.batch_frames`` frames and run them
through ``session.run`` one frame at a time; the bench's stage table must do the same (a
micro-batch of 8 frames in one tensor would not fit the graph), and take ``session.run`` out of
the whole pass with that pass's own calls, leaving ``Detector.run_raw`` as it found it.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from streams.config import Settings
from streams.inference import Detector, ModelSpec
from streams.runners.batch_assembler import frames_per_run
from tests.bench_modules import load_bench
from tests.onnx_graphs import constant_detector
from tests.test_inference_decoders import yolov8_output

pytest.importorskip("streams.simulate")


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench("bench_pipeline")


def test_stage_table_runs_a_static_batch_graph_in_micro_batches(
    bench: ModuleType, tmp_path: Path
) -> None:
    onnx = constant_detector(
        tmp_path / "static.onnx", {"output0": yolov8_output()}, input_shape=(1, 3, 320, 320)
    )
    settings = Settings(inference={"model": str(onnx)}, drift={"reference": None})
    detector = Detector.load(ModelSpec.for_onnx(onnx), settings=settings)
    assert detector.max_batch_size == 1
    batch = frames_per_run(8, detector.max_batch_size)
    assert batch == 8
    calls: list[int] = []
    real = detector.run_raw

    def counted(tensor: Any) -> list[Any]:
        calls.append(len(tensor))
        return real(tensor)

    detector.run_raw = counted  # type: ignore[method-assign]
    spent = bench._stage_ms(detector, bench._records(16), settings, batch)
    assert vars(detector)["run_raw"] is not real  # the whole pass put ours back
    del detector.run_raw
    assert set(calls) == {1}  # every session.run got one frame, in both passes
    assert len(calls) == 16 + 200 + 16  # the first pass, the lab reference, the whole pass
    assert set(spent) == {*bench.STAGES, bench.WRITES}
    assert all(ms >= 0.0 for ms in spent.values())
    assert spent["session.run"] > 0.0
    assert spent[bench.WRITES] >= 1  # the last flush at least
