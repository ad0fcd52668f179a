"""``make bench``: every benchmark in one run. Each prints its own numbers and ratios."""

from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path

HERE = Path(__file__).parent
# (module file, argv) — in the order the issues introduce them.
BENCHES: list[tuple[str, list[str]]] = [
    ("bench_inference.py", []),
    ("bench_monitoring.py", []),
    ("bench_store.py", []),
    ("bench_pipeline.py", []),
    ("bench_kafka.py", []),
    ("bench_report.py", ["--frames", "1000000"]),
    ("bench_snapshot.py", []),
    ("bench_camera_batch.py", []),
    # skips unless this interpreter can import Ultralytics (pass --ultralytics-python by hand)
    ("bench_ultralytics.py", []),
]


def main() -> int:
    """Run each benchmark that exists; a failing one is reported and the rest still run."""
    sys.path.insert(0, str(HERE))
    failed = []
    for name, argv in BENCHES:
        path = HERE / name
        if not path.is_file():
            print(f"\n##### {name}: not present, skipped")
            continue
        print(f"\n##### {name} {' '.join(argv)}", flush=True)
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
            if inspect.signature(module.main).parameters:
                module.main(argv)
            else:
                sys.argv = [str(path), *argv]
                module.main()
        except Exception as exc:  # report and go on: one broken bench must not hide the others
            print(f"!! {name} failed: {exc!r}")
            failed.append(name)
        sys.stdout.flush()
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
