#!/usr/bin/python3
"""Golden fixtures for the inference modes: sliding-window and test-time-augmented logits from torch.

Run with Debian's interpreter (torch + torchvision), after `npm ci`:  /usr/bin/python3 scripts/make_slide_fixtures.py

torchvision's LR-ASPP MobileNetV3-Small on the committed golden weights (test/fixtures/parity/), on a scene image
whose size is no multiple of the crop. The modes are written out here from their definitions (mmsegmentation 1.x's
EncoderDecoder.slide_inference and SegTTAModel, as the inference-mode definitions state them), independently of cityseg's code. Only
the test-time resize is cityseg's own (libvips, not torch): scripts/make_slide_inputs.ts writes the scaled copies
with cityseg's code so both sides see the same pixels.

Writes test/fixtures/slide/: the image and per case <case>_argmax.png (the class of every
pixel) and <case>_sub.npy (every channel at rows and columns 0, STEP, 2*STEP, ...), plus manifest.json.
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image
from torchvision.models.segmentation.lraspp import _lraspp_mobilenetv3

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_fixtures import make_image, preprocess  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "test" / "fixtures" / "slide"
WEIGHTS = ROOT / "test" / "fixtures" / "parity" / "lraspp_mobilenet_v3_small.pth"
ARCH = "lraspp_mobilenet_v3_small"
NUM_CLASSES = 19
IMAGE = ("street_175x375", 175, 375, 21)
STEP = 7

# (name, mode, crop (h, w), stride (h, w), scales, flip). Crop and stride 64x128 / 43x85 on 175x375: 4x4 windows,
# none flush with the grid, the last ones shifted back to the edges.
CASES = [
    ("slide", "slide", (64, 128), (43, 85), [1.0], False),
    ("whole_tta", "whole", None, None, [0.75, 1.0, 1.25], True),
    ("slide_tta", "slide", (64, 128), (43, 85), [0.5, 1.0], True),
]


def network(model, rgb):
    """torchvision's output for an HxWx3 uint8 image: logits [1, C, H, W] at the image's size."""
    return model(preprocess(np.array(rgb)))["out"]


def slide_inference(model, rgb, crop, stride):
    """mmsegmentation 1.x EncoderDecoder.slide_inference, batch of one."""
    h_stride, w_stride = stride
    h_crop, w_crop = crop
    h_img, w_img = rgb.shape[:2]
    h_grids = max(h_img - h_crop + h_stride - 1, 0) // h_stride + 1
    w_grids = max(w_img - w_crop + w_stride - 1, 0) // w_stride + 1
    preds = torch.zeros((1, NUM_CLASSES, h_img, w_img))
    count_mat = torch.zeros((1, 1, h_img, w_img))
    for h_idx in range(h_grids):
        for w_idx in range(w_grids):
            y1 = h_idx * h_stride
            x1 = w_idx * w_stride
            y2 = min(y1 + h_crop, h_img)
            x2 = min(x1 + w_crop, w_img)
            y1 = max(y2 - h_crop, 0)
            x1 = max(x2 - w_crop, 0)
            crop_seg_logit = network(model, rgb[y1:y2, x1:x2])
            preds += F.pad(crop_seg_logit, (int(x1), int(preds.shape[3] - x2), int(y1), int(preds.shape[2] - y2)))
            count_mat[:, :, y1:y2, x1:x2] += 1
    assert (count_mat == 0).sum() == 0
    return preds / count_mat


def run(model, rgb, mode, crop, stride):
    return slide_inference(model, rgb, crop, stride) if mode == "slide" else network(model, rgb)


def augmented(model, scaled_images, mode, crop, stride, flip, out_hw):
    """SegTTAModel: per scale and flip, run, un-flip, resize to the original size, softmax; mean of the passes."""
    probs = torch.zeros((1, NUM_CLASSES) + out_hw)
    passes = 0
    for rgb in scaled_images:
        for flipped in ([False, True] if flip else [False]):
            logits = run(model, rgb[:, ::-1] if flipped else rgb, mode, crop, stride)
            if flipped:
                logits = logits.flip(dims=(3,))
            logits = F.interpolate(logits, size=out_hw, mode="bilinear", align_corners=False)
            probs += logits.softmax(dim=1)
            passes += 1
    return probs / passes


def main():
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    name, height, width, seed = IMAGE
    rgb = make_image(height, width, seed)
    image_path = OUT_DIR / f"{name}.png"
    Image.fromarray(rgb, "RGB").save(image_path)
    scales = sorted({s for case in CASES for s in case[4] if s != 1.0})
    scaled = {1.0: rgb}
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["node", "--import", "tsx", "scripts/make_slide_inputs.ts", str(image_path), tmp] + [repr(s) for s in scales],
                       cwd=ROOT, check=True)
        for s in scales:
            scaled[s] = np.asarray(Image.open(Path(tmp) / f"{name}_x{s!r}.png").convert("RGB"))

    # torchvision has no public builder for the small LR-ASPP; this is what its large builder does (as make_fixtures).
    model = _lraspp_mobilenetv3(torchvision.models.mobilenet_v3_small(dilated=True), NUM_CLASSES)
    model.load_state_dict(torch.load(WEIGHTS, map_location="cpu"))
    model.eval()
    manifest_cases = []
    with torch.no_grad():
        for case, mode, crop, stride, case_scales, flip in CASES:
            if case_scales == [1.0] and not flip:
                scores = run(model, rgb, mode, crop, stride)
            else:
                scores = augmented(model, [scaled[s] for s in case_scales], mode, crop, stride, flip, (height, width))
            scores = scores.numpy().astype("<f4")
            argmax = scores[0].argmax(axis=0).astype(np.uint8)
            Image.fromarray(argmax, "L").save(OUT_DIR / f"{case}_argmax.png")
            np.save(OUT_DIR / f"{case}_sub.npy", np.ascontiguousarray(scores[:, :, ::STEP, ::STEP]))
            args = ["--mode", mode]
            if mode == "slide":
                args += ["--crop", f"{crop[0]}x{crop[1]}", "--stride", f"{stride[0]}x{stride[1]}"]
            if case_scales != [1.0]:
                args += ["--scales", ",".join(repr(s) for s in case_scales)]
            if flip:
                args += ["--flip"]
            manifest_cases.append({"name": case, "args": args, "output": "probabilities" if (flip or case_scales != [1.0]) else "logits",
                                   "range": [float(scores.min()), float(scores.max())]})
            print(case, scores.shape, float(scores.min()), float(scores.max()))
    manifest = {"arch": ARCH, "numClasses": NUM_CLASSES, "weights": "../parity/" + WEIGHTS.name, "image": image_path.name,
                "height": height, "width": width, "step": STEP, "cases": manifest_cases}
    (OUT_DIR / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
