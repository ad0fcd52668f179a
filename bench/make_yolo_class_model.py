#!/usr/bin/env python3
"""Build a YOLOv8n-sized detector (random weights) and export it to ONNX for inference benchmarks.

The architecture follows YOLOv8n (width 0.25, depth 0.33): Conv-BN-SiLU, C2f blocks, SPPF, a
PAN neck and the decoupled anchor-free head with DFL (reg_max 16), ~3.2M parameters. Exported at
320x320 with the usual output ``[1, 84, 2100]`` (cx, cy, w, h in input pixels + 80 class scores;
2100 = 40^2 + 20^2 + 10^2 cells). Weights are random (seeded): only the compute is realistic.

    .venv-train/bin/python bench/make_yolo_class_model.py   # -> bench/.cache/yolo-class-320.onnx

Does nothing (exit 0 with a message) when torch is not importable.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

try:
    import torch
    from torch import nn
except ImportError:  # pragma: no cover - optional
    print("torch is not installed: skipping the YOLO-class benchmark model")
    sys.exit(0)

OUT = Path(__file__).resolve().parent / ".cache" / "yolo-class-320.onnx"


class Conv(nn.Module):
    def __init__(self, c1: int, c2: int, k: int = 1, s: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    def __init__(self, c1: int, c2: int, shortcut: bool) -> None:
        super().__init__()
        self.cv1 = Conv(c1, c2, 3)
        self.cv2 = Conv(c2, c2, 3)
        self.add = shortcut and c1 == c2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C2f(nn.Module):
    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = False) -> None:
        super().__init__()
        self.c = c2 // 2
        self.cv1 = Conv(c1, 2 * self.c, 1)
        self.cv2 = Conv((2 + n) * self.c, c2, 1)
        self.m = nn.ModuleList(Bottleneck(self.c, self.c, shortcut) for _ in range(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = list(self.cv1(x).chunk(2, 1))
        for m in self.m:
            y.append(m(y[-1]))
        return self.cv2(torch.cat(y, 1))


class SPPF(nn.Module):
    def __init__(self, c1: int, c2: int, k: int = 5) -> None:
        super().__init__()
        c_ = c1 // 2
        self.cv1 = Conv(c1, c_, 1)
        self.cv2 = Conv(c_ * 4, c2, 1)
        self.m = nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.cv1(x)
        y1 = self.m(x)
        y2 = self.m(y1)
        return self.cv2(torch.cat([x, y1, y2, self.m(y2)], 1))


class Detect(nn.Module):
    def __init__(
        self, nc: int, ch: tuple[int, ...], strides: tuple[int, ...], size: int, shift: float
    ) -> None:
        super().__init__()
        self.nc, self.reg_max = nc, 16
        c2, c3 = max(16, ch[0] // 4, self.reg_max * 4), max(ch[0], min(nc, 100))
        self.cv2 = nn.ModuleList(
            nn.Sequential(Conv(x, c2, 3), Conv(c2, c2, 3), nn.Conv2d(c2, 4 * self.reg_max, 1))
            for x in ch
        )
        self.cv3 = nn.ModuleList(
            nn.Sequential(Conv(x, c3, 3), Conv(c3, c3, 3), nn.Conv2d(c3, nc, 1)) for x in ch
        )
        # YOLOv8's own head initialisation (Detect.bias_init): class logits start at the prior
        # log(5 / nc / (640 / stride)^2), i.e. a handful of objects per image. Without it, random
        # weights score every anchor ~0.5 and NMS keeps 100 boxes a frame, which no trained
        # detector does on the good units that make up ~98 % of production.
        for seq, stride in zip(self.cv3, strides, strict=True):
            last = seq[-1]
            nn.init.constant_(last.bias, math.log(5 / nc / (640 / stride) ** 2) + shift)
        self.register_buffer("proj", torch.arange(self.reg_max, dtype=torch.float32))
        anchors, stride_t = [], []
        for s in strides:
            n = size // s
            ys, xs = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
            anchors.append(torch.stack([xs.flatten() + 0.5, ys.flatten() + 0.5], 0))
            stride_t.append(torch.full((1, n * n), float(s)))
        self.register_buffer("anchors", torch.cat(anchors, 1).float())
        self.register_buffer("strides", torch.cat(stride_t, 1))

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        b = feats[0].shape[0]
        box = torch.cat(
            [m(f).reshape(b, 4 * self.reg_max, -1) for m, f in zip(self.cv2, feats, strict=True)], 2
        )
        cls = torch.cat(
            [m(f).reshape(b, self.nc, -1) for m, f in zip(self.cv3, feats, strict=True)], 2
        )
        dist = box.reshape(b, 4, self.reg_max, -1).softmax(2)
        dist = (dist * self.proj.reshape(1, 1, -1, 1)).sum(2)  # DFL: (b, 4, n) ltrb
        lt, rb = dist[:, :2], dist[:, 2:]
        x1y1, x2y2 = self.anchors - lt, self.anchors + rb
        xywh = torch.cat([(x1y1 + x2y2) / 2, x2y2 - x1y1], 1) * self.strides
        return torch.cat([xywh, cls.sigmoid()], 1)


class YoloV8n(nn.Module):
    def __init__(self, nc: int = 80, size: int = 320, shift: float = 0.0) -> None:
        super().__init__()
        self.b0 = nn.Sequential(Conv(3, 16, 3, 2), Conv(16, 32, 3, 2), C2f(32, 32, 1, True))
        self.b1 = nn.Sequential(Conv(32, 64, 3, 2), C2f(64, 64, 2, True))  # P3
        self.b2 = nn.Sequential(Conv(64, 128, 3, 2), C2f(128, 128, 2, True))  # P4
        self.b3 = nn.Sequential(Conv(128, 256, 3, 2), C2f(256, 256, 1, True), SPPF(256, 256))
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.h1 = C2f(384, 128)
        self.h2 = C2f(192, 64)
        self.d1 = Conv(64, 64, 3, 2)
        self.h3 = C2f(192, 128)
        self.d2 = Conv(128, 128, 3, 2)
        self.h4 = C2f(384, 256)
        self.detect = Detect(nc, (64, 128, 256), (8, 16, 32), size, shift)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p3 = self.b1(self.b0(x))
        p4 = self.b2(p3)
        p5 = self.b3(p4)
        n4 = self.h1(torch.cat([self.up(p5), p4], 1))
        o3 = self.h2(torch.cat([self.up(n4), p3], 1))
        o4 = self.h3(torch.cat([self.d1(o3), n4], 1))
        o5 = self.h4(torch.cat([self.d2(o4), p5], 1))
        return self.detect([o3, o4, o5])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--size", type=int, default=320)
    ap.add_argument(
        "--cls-bias-shift",
        type=float,
        default=0.0,
        help="added to the class logits' bias: random weights then score boxes above a "
        "confidence threshold (bench/bench_ultralytics.py builds its model with one)",
    )
    ap.add_argument(
        "--dynamic-batch",
        action="store_true",
        help="export with a dynamic batch dimension (bench/bench_inference.py's batches 8 and "
        "32, batching across cameras); without it the batch is 1, as Ultralytics exports",
    )
    args = ap.parse_args()
    torch.manual_seed(0)
    model = YoloV8n(size=args.size, shift=args.cls_bias_shift).eval()
    params = sum(p.numel() for p in model.parameters())
    dummy = torch.zeros(1, 3, args.size, args.size)
    with torch.no_grad():
        shape = tuple(model(dummy).shape)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        model,
        (dummy,),
        str(args.out),
        input_names=["images"],
        output_names=["output0"],
        opset_version=17,
        do_constant_folding=True,
        dynamic_axes=(
            {"images": {0: "batch"}, "output0": {0: "batch"}} if args.dynamic_batch else None
        ),
        dynamo=False,
    )
    print(f"wrote {args.out}: {params / 1e6:.2f}M params, output {list(shape)}")


if __name__ == "__main__":
    main()
