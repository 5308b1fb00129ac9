#!/usr/bin/env python3
"""Peers for `cityseg bench --peers`: PyTorch eager timings, and torchvision's own ONNX export for ONNX Runtime.

Run with Debian's /usr/bin/python3 (python3-torch, python3-torchvision). Prints one JSON object on stdout:
{"torch": ..., "torchvision": ..., "threads": N, "rows": [{"engine": "pytorch-eager", "arch", "size", "p50_ms", ...}],
 "onnx": {"<arch>": "<path to the exported .onnx>"}}.
Timed like our own model-only rows: forward pass plus the final upsample to the input size and the argmax.
"""
import argparse, json, statistics, sys, time

import torch
import torchvision
from torchvision.models.segmentation.lraspp import _lraspp_mobilenetv3


def build(arch, num_classes):
    torch.manual_seed(0)
    if arch == "lraspp_mobilenet_v3_large":
        return torchvision.models.segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=num_classes)
    if arch == "lraspp_mobilenet_v3_small":
        return _lraspp_mobilenetv3(torchvision.models.mobilenet_v3_small(dilated=True), num_classes)
    raise SystemExit(f"unsupported arch {arch}")


class MaskOut(torch.nn.Module):
    """torchvision's model (which already upsamples to the input size) followed by the per-pixel argmax."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)["out"].argmax(1)


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--archs", default="lraspp_mobilenet_v3_large")
    parser.add_argument("--num-classes", type=int, default=19)
    parser.add_argument("--sizes", default="512x1024,1024x2048")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--export-dir", required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows, exported = [], {}
    for arch in args.archs.split(","):
        model = MaskOut(build(arch, args.num_classes).eval())
        for size in args.sizes.split(","):
            h, w = (int(v) for v in size.split("x"))
            x = torch.randn(1, 3, h, w)
            times = []
            with torch.no_grad():
                for i in range(args.runs + 2):
                    start = time.perf_counter()
                    model(x)
                    if i >= 2:  # two warm-up runs
                        times.append((time.perf_counter() - start) * 1000)
            rows.append({"engine": "pytorch-eager", "arch": arch, "size": size, "threads": args.threads,
                         "runs": args.runs, "p50_ms": statistics.median(times), "p95_ms": percentile(times, 0.95), "mean_ms": statistics.mean(times)})
            print(f"pytorch eager {arch} {size}: p50 {statistics.median(times):.1f} ms", file=sys.stderr)
        path = f"{args.export_dir}/{arch}-{args.num_classes}.onnx"
        with torch.no_grad():
            torch.onnx.export(model, torch.randn(1, 3, 64, 128), path, opset_version=14, input_names=["input"],
                              output_names=["mask"], dynamic_axes={"input": {2: "height", 3: "width"}, "mask": {1: "height", 2: "width"}})
        exported[arch] = path
    json.dump({"torch": torch.__version__, "torchvision": torchvision.__version__, "threads": args.threads,
               "rows": rows, "onnx": exported}, sys.stdout)


if __name__ == "__main__":
    main()
