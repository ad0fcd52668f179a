"""``bench/bench_inference.py``'s accelerator path, exercised where it can be: on the CPU.

The CUDA / TensorRT providers cannot run here; these tests check that the bench says so and
skips, and that the code it would run with them (batches 1/8/32, the stage table, I/O binding)
runs with the CPU provider on a tiny graph.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import onnxruntime as ort
import pytest

from streams.inference import ModelSpec
from tests.bench_modules import load_bench
from tests.onnx_graphs import constant_detector
from tests.test_inference_decoders import yolov8_output

pytest.importorskip("streams.simulate")


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench("bench_inference")


def test_without_an_accelerator_the_bench_says_so_and_skips(
    bench: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this machine has CUDA: the bench would measure it")
    assert bench.main(["--providers", "cuda,tensorrt"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("no accelerator here:")
    assert "CUDAExecutionProvider" in out and "skipped" in out
    assert "frames/s" not in out  # nothing measured on the CPU in the GPU's place


def test_providers_are_named_and_checked(bench: ModuleType) -> None:
    assert bench.accelerator_providers("cpu") == ["CPUExecutionProvider"]
    with pytest.raises(SystemExit, match="unknown"):
        bench.accelerator_providers("cuda,npu")
    assert bench._device_of(["CUDAExecutionProvider", "CPUExecutionProvider"]) == "cuda"
    assert bench._device_of(["CPUExecutionProvider"]) == "cpu"


def test_io_bound_runs_give_the_outputs_of_a_plain_run(bench: ModuleType, tmp_path: Path) -> None:
    onnx = constant_detector(
        tmp_path / "d.onnx", {"output0": yolov8_output()}, input_shape=("batch", 3, 320, 320)
    )
    session = ort.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
    tensors = [np.zeros((n, 3, 320, 320), np.float32) for n in (1, 8)]
    run, copy_back = bench.io_bound_runs(session, "images", tensors, "cpu")
    run()
    copy_back()
    binding = session.io_binding()
    binding.bind_cpu_input("images", tensors[1])
    binding.bind_output("output0", "cpu")
    session.run_with_iobinding(binding)
    (bound,) = binding.copy_outputs_to_cpu()
    (plain,) = session.run(None, {"images": tensors[1]})
    assert bound.shape[0] == 8
    np.testing.assert_array_equal(bound, plain)


def test_stage_table_by_batch_with_io_binding_on_the_cpu(
    bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    onnx = constant_detector(
        tmp_path / "d.onnx", {"output0": yolov8_output()}, input_shape=("batch", 3, 320, 320)
    )
    lines = bench._events(8)
    for batch in (1, 8):
        bench.bench_model(
            "tiny",
            ModelSpec.for_onnx(onnx),
            lines=lines,
            batch=batch,
            repeats=1,
            threads=1,
            providers=["CPUExecutionProvider"],
            io_binding=True,
        )
    out = capsys.readouterr().out
    assert "8 frames, batch 1," in out and "8 frames, batch 8," in out
    for stage in (
        "parse + JPEG decode",
        "pre-processing",
        "session.run (host arrays)",
        "session.run, I/O binding",
        "outputs copied to the host",
        "post-processing",
        "full linewatch detect",
    ):
        assert out.count(stage) == 2, stage
    assert "frames/s" in out and "ms/frame" in out
