#!/usr/bin/python3
"""Golden fixtures for the classifier's input transform: torchvision 0.14's ImageNet eval transform on PIL images.

Run with Debian's interpreter (python3-torch, python3-torchvision, python3-pil):
    /usr/bin/python3 scripts/make_classify_transform_fixtures.py

For each case and each of the weights' transforms (IMAGENET1K_V1: Resize(256), IMAGENET1K_V2: Resize(232); PIL
bilinear, antialiased when shrinking) + CenterCrop(224), then ToTensor + Normalize, then a classifier and its softmax. The classifier is the parity checkpoint
(test/fixtures/parity/mobilenet_v3_large.pth) with BatchNorm statistics measured on street images and its last
layer scaled, so that, like a trained network, its outputs depend on the image and are peaked: the parity
checkpoint alone answers the same probabilities for every image, which would make a probability test vacuous.
Only the changed tensors are written (bn_overrides.safetensors, plus the scale in the manifest).
Cases cover enlarging, shrinking, odd and elongated sizes.

Writes test/fixtures/classify-transform/:
  manifest.json       per case and transform: source, resize short side, sizes, sha256 of the 224x224x3 uint8 crop, sampled normalised values,
                      the probabilities (float32, 1000) and the top-5
  <case>.png          synthetic sources (seeded, committed); the crops themselves are checked by sha256
  bn_overrides.safetensors  float32 running_mean / running_var of every BatchNorm layer
Real Cityscapes frames are read from ../shared/real (never copied: only hashes and probabilities are written).
"""
import argparse
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import PIL
import torch
import torchvision
from PIL import Image
from torchvision import transforms as T

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "test" / "fixtures" / "classify-transform"
PARITY = ROOT / "test" / "fixtures" / "parity"

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def synthetic(height, width, seed, noise):
    """Smooth gradients, hard-edged discs and stripes plus Gaussian noise: edges and texture stress the rounding."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    yn, xn = y / max(1, height - 1), x / max(1, width - 1)
    img = np.zeros((height, width, 3))
    img[..., 0] = 120 + 100 * np.sin(2 * math.pi * (1.3 * xn + 0.4 * yn) + rng.uniform(0, 6))
    img[..., 1] = 110 + 90 * np.cos(2 * math.pi * (0.7 * xn - 1.6 * yn) + rng.uniform(0, 6))
    img[..., 2] = 210 - 170 * yn
    for _ in range(5):
        cy, cx, r = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), rng.uniform(0.05, 0.2)
        img[(yn - cy) ** 2 + ((xn - cx) * width / height) ** 2 < r ** 2] = rng.integers(0, 256, 3)
    img[(np.floor(xn * 23) % 2 == 0) & (yn > 0.8)] = (250, 250, 245)
    img += rng.normal(0.0, noise, img.shape)
    return Image.fromarray(np.clip(np.round(img), 0, 255).astype(np.uint8), "RGB")


# name, how to get the source: ("synthetic", h, w, seed, noise) | ("shared", file, crop box (l, t, r, b) or None)
CASES = [
    ("synthetic_256x128", ("synthetic", 128, 256, 31, 10.0)),   # enlarged x2, the short side 128
    ("synthetic_180x97", ("synthetic", 97, 180, 32, 10.0)),     # enlarged by an odd factor, odd sizes
    ("synthetic_97x131", ("synthetic", 131, 97, 33, 10.0)),     # portrait, odd sizes
    ("synthetic_700x300", ("synthetic", 300, 700, 34, 3.0)),    # shrunk by 1.17, elongated
    ("real_256x128", ("shared", "frankfurt_000000_000294_leftImg8bit.png", None)),
    ("real_180x97", ("shared", "frankfurt_000000_000294_leftImg8bit.png", (37, 19, 217, 116))),
    ("real_1024x512", ("shared", "demo.png", None)),             # shrunk x2
    ("real_97x131", ("shared", "demo.png", (600, 200, 697, 331))),
    ("real_1000x90", ("shared", "demo.png", (11, 300, 1011, 390))),  # very elongated, enlarged
]


def source_image(spec, shared):
    if spec[0] == "synthetic":
        _, h, w, seed, noise = spec
        return synthetic(h, w, seed, noise)
    _, name, box = spec
    img = Image.open(shared / name).convert("RGB")
    return img.crop(box) if box else img


def write_safetensors(path, tensors):
    """safetensors by hand (the format is a JSON header and little-endian data), float32 only."""
    header, chunks, offset = {}, [], 0
    for name in sorted(tensors):
        data = tensors[name].detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + b"".join(chunks))


def street_batches(sources, to_tensor):
    """224x224 views of the sources (resized crops, flips) to measure BatchNorm statistics on."""
    views = []
    for src in sources:
        w, h = src.size
        for scale in (1.0, 0.7, 0.5):
            cw, ch = max(1, int(w * scale)), max(1, int(h * scale))
            for left, top in ((0, 0), (w - cw, h - ch), ((w - cw) // 2, (h - ch) // 2)):
                view = src.crop((left, top, left + cw, top + ch)).resize((224, 224), Image.BILINEAR)
                views += [to_tensor(view), to_tensor(view.transpose(Image.FLIP_LEFT_RIGHT))]
    return torch.stack(views)


def street_statistics(model, batch):
    """BatchNorm running statistics as the plain average over `batch` (momentum None), then eval mode."""
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None
    model.train()
    with torch.no_grad():
        for chunk in batch.split(16):
            model(chunk)
    model.eval()


# The weights' eval transforms (torchvision's `weights.transforms()`): the resize of the short side, then the 224 crop.
WEIGHTS_TRANSFORMS = [("IMAGENET1K_V1", 256), ("IMAGENET1K_V2", 232)]

# Scale of the last layer: logits of std ~4, about as peaked as torchvision's trained weights on street photos.
TARGET_LOGIT_STD = 4.0


def f32(values):
    return [float(np.float32(v)) for v in values]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "real")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    torch.set_num_threads(1)

    transform = T.Compose([T.Resize(256), T.CenterCrop(224)])
    to_tensor = T.Compose([T.ToTensor(), T.Normalize(MEAN, STD)])

    model = torchvision.models.mobilenet_v3_large(weights=None)
    state = torch.load(PARITY / "mobilenet_v3_large.pth", map_location="cpu")
    model.load_state_dict({k: v.float() for k, v in state.items()})
    sources = {name: source_image(spec, args.shared) for name, spec in CASES}
    street_statistics(model, street_batches(list(sources.values()), to_tensor))
    with torch.no_grad():
        probe = model(torch.stack([to_tensor(transform(src)) for src in sources.values()]))
        scale = float(np.float32(TARGET_LOGIT_STD / probe.std(dim=1).mean().item()))
        last = model.classifier[3]
        last.weight.mul_(torch.tensor(scale, dtype=torch.float32))
        last.bias.mul_(torch.tensor(scale, dtype=torch.float32))
    write_safetensors(OUT / "bn_overrides.safetensors", {
        name: value for name, value in model.state_dict().items() if name.endswith(("running_mean", "running_var"))
    })

    cases = []
    for variant, resize in WEIGHTS_TRANSFORMS:
        transform = T.Compose([T.Resize(resize), T.CenterCrop(224)])
        preset = getattr(torchvision.models.MobileNet_V3_Large_Weights, variant).transforms()
        for name, spec in CASES:
            src = sources[name]
            crop = transform(src)
            tensor = to_tensor(crop)
            # The weights' own preset transform (what torchvision documents) builds the same tensor.
            assert torch.equal(preset(src), tensor), (variant, name)
            with torch.no_grad():
                probs = torch.softmax(model(tensor.unsqueeze(0)), dim=1)[0]
            crop_bytes = np.asarray(crop, dtype=np.uint8).tobytes()
            resized = transform.transforms[0](src).size
            entry = {
                "name": name if resize == 256 else f"{name}@{resize}",
                "source": (
                    {"synthetic": f"{name}.png"} if spec[0] == "synthetic"
                    else {"shared": spec[1], "crop": list(spec[2]) if spec[2] else None}
                ),
                "resizeShortSide": resize,
                "width": src.size[0],
                "height": src.size[1],
                "resized": list(resized),
                "cropSha256": hashlib.sha256(crop_bytes).hexdigest(),
                # (channel, y, x, value) of the normalised CHW tensor, corners and centre.
                "tensorSamples": [
                    [c, y, x, float(tensor[c, y, x])] for c in range(3) for (y, x) in [(0, 0), (0, 223), (111, 112), (223, 0), (223, 223)]
                ],
                "probabilities": f32(probs.tolist()),
                "top5": torch.topk(probs, 5).indices.tolist(),
            }
            if spec[0] == "synthetic":
                src.save(OUT / f"{name}.png", optimize=True)
            cases.append(entry)
            print(f"{entry['name']}: {src.size} -> {resized}, top-1 {entry['top5'][0]} p={probs.max():.4f}")

    # PIL's resampler alone on a tiny seeded image: each pass alone, both, enlarging and shrinking by odd factors.
    tiny = synthetic(7, 13, 35, 30.0)
    resizes = [
        {"width": w, "height": h, "pixels": np.asarray(tiny.resize((w, h), Image.BILINEAR)).reshape(-1).tolist()}
        for (w, h) in [(3, 7), (13, 3), (29, 11), (5, 4), (1, 1), (40, 2)]
    ]
    tiny.save(OUT / "tiny_13x7.png")

    manifest = {
        "generator": "scripts/make_classify_transform_fixtures.py",
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "pillow": PIL.__version__,
        "transform": "Resize(resizeShortSide, bilinear) + CenterCrop(224) + ToTensor + Normalize(ImageNet)",
        "weights": "../parity/mobilenet_v3_large.pth",
        "overrides": "bn_overrides.safetensors",
        "classifierScale": scale,
        "cases": cases,
        "tiny": {"source": "tiny_13x7.png", "resizes": resizes},
    }
    # One line per case: the 1000 probabilities would otherwise make a file of 11,000 lines.
    body = {k: v for k, v in manifest.items() if k not in ("cases", "tiny")}
    head = json.dumps(body, indent=1)[:-2]
    cases_text = ",\n".join("  " + json.dumps(case, separators=(",", ":")) for case in cases)
    tiny_text = json.dumps(manifest["tiny"], separators=(",", ":"))
    (OUT / "manifest.json").write_text(f'{head},\n "tiny": {tiny_text},\n "cases": [\n{cases_text}\n ]\n}}\n')


if __name__ == "__main__":
    main()
