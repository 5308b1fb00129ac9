#!/usr/bin/python3
"""Golden fixtures for fastseg's MobileNetV3 LR-ASPP family, computed by fastseg's and geffnet's own modules.

Usage: /usr/bin/python3 scripts/make_fastseg_fixtures.py --fastseg /tmp/fastseg --geffnet /tmp/geffnet

--fastseg and --geffnet are extracted snapshots of the repositories ekzhang/fastseg and
rwightman/gen-efficientnet-pytorch (their roots, holding the `fastseg/` and `geffnet/` packages); they are put on
sys.path and imported, never copied. The trunk's ImageNet download is switched off (geffnet's load_pretrained
becomes a no-op), so the networks start from their constructors' seeded initialisation.

Each of the five published variants (Large F128, F256; Small F256, F128, F64) is made a calibrated random network:
BatchNorm affine terms drawn from a seed, BatchNorm statistics re-estimated on crops of the real Cityscapes frames
in ../shared/real (read here only, never by the tests), the last layer centred per class and scaled so logits have
a std of TARGET_LOGIT_STD. Values are rounded to float16 and the reference evaluated on exactly those values.

Writes test/fixtures/fastseg/:
  manifest.json                          every model, its cases and the tolerance
  <image>.png                            deterministic synthetic street scenes (scripts/make_fixtures.make_image)
  <variant>.pt                           fastseg's checkpoint form {'num_classes', 'state_dict': {'module.…'}}; float16
                                         values except the one FLOAT32_VARIANT written as true float32
  <variant>__<image>.argmax.npy.gz       uint8 [H, W]: the argmax of fastseg's output over all pixels
  <variant>__<image>.sample.npy          float32 [C, rows, cols]: fastseg's logits at the manifest's sample rows/cols
"""
import argparse
import gzip
import io
import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "test" / "fixtures" / "fastseg"
REAL_DIR = ROOT.parent / "shared" / "real"
sys.path.insert(0, str(ROOT / "scripts"))
from make_fixtures import make_image, preprocess  # noqa: E402  (our own generator of synthetic scenes)

# As scripts/make_fixtures.py: logits of a few units, the range trained networks give.
TARGET_LOGIT_STD = 2.0
# (height, width, seed): the smallest accepted input (the 1/8 map exactly 49), an odd size, a 3:1 panorama.
IMAGES = [(385, 385, 7), (401, 433, 8), (388, 1164, 9)]
# Every SAMPLE_STEP-th row and column, plus the last, carry exact logits in the fixtures.
SAMPLE_STEP = 16
# (class name, filters, torch seed); the arch names are cityseg's.
VARIANTS = [
    ("MobileV3Large", 128, 1),
    ("MobileV3Large", 256, 2),
    ("MobileV3Small", 256, 3),
    ("MobileV3Small", 128, 4),
    ("MobileV3Small", 64, 5),
]
FLOAT32_VARIANT = "mobilev3small-lraspp-f64"
NUM_CLASSES = 19
CROP = 449
CROPS_PER_FRAME = 3


def import_originals(fastseg_dir, geffnet_dir):
    sys.path.insert(0, str(Path(geffnet_dir).resolve()))
    sys.path.insert(0, str(Path(fastseg_dir).resolve()))
    import geffnet.mobilenetv3
    # No internet here: the ImageNet trunk weights are never fetched.
    geffnet.mobilenetv3.load_pretrained = lambda *args, **kwargs: None
    from fastseg.model.lraspp import MobileV3Large, MobileV3Small
    return {"MobileV3Large": MobileV3Large, "MobileV3Small": MobileV3Small}


def real_crops(generator):
    frames = sorted(REAL_DIR.glob("*leftImg8bit.png")) + sorted(REAL_DIR.glob("demo.png"))
    if not frames:
        sys.exit(f"no street frames in {REAL_DIR}: the BatchNorm statistics are estimated on real street crops")
    crops = []
    for frame in frames:
        image = Image.open(frame).convert("RGB")
        # The small frames are enlarged so a crop the network accepts fits in them.
        scale = max(1.0, (CROP + 1) / min(image.size))
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.BILINEAR)
        rgb = np.asarray(image)
        for _ in range(CROPS_PER_FRAME):
            top = int(torch.randint(0, rgb.shape[0] - CROP + 1, (1,), generator=generator))
            left = int(torch.randint(0, rgb.shape[1] - CROP + 1, (1,), generator=generator))
            crops.append(preprocess(np.ascontiguousarray(rgb[top:top + CROP, left:left + CROP])))
    return torch.cat(crops)


# Seeds of synthetic scenes (like the test images, never one of them) the head is centred and scaled on.
HEAD_SEEDS = [50, 51]


def calibrate(model, crops, generator):
    """Random BN affine terms, BN statistics from real crops (cumulative average), then the head scaled on
    synthetic scenes like the test images, so their logits have a std of TARGET_LOGIT_STD."""
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            n = module.num_features
            module.weight.data.copy_(torch.rand(n, generator=generator) * 0.8 + 0.6)
            module.bias.data.copy_(torch.randn(n, generator=generator) * 0.2)
            module.reset_running_stats()
            module.momentum = None
    model.train()
    with torch.no_grad():
        for i in range(0, len(crops), 2):
            model(crops[i:i + 2])
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(preprocess(make_image(CROP, CROP, seed))) for seed in HEAD_SEEDS])
        flat = logits.movedim(1, -1).reshape(-1, logits.shape[1])
        mean = flat.mean(dim=0)
        model.last.bias.sub_(mean)
        factor = TARGET_LOGIT_STD / float((flat - mean).std())
        model.last.weight.mul_(factor)
        model.last.bias.mul_(factor)


def round_to_half(model):
    with torch.no_grad():
        for t in list(model.parameters()) + list(model.buffers()):
            if t.is_floating_point():
                t.copy_(t.half().float())


def save_npy(path, array):
    np.save(path, array, allow_pickle=False)


def save_npy_gz(path, array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    path.write_bytes(gzip.compress(buffer.getvalue(), mtime=0))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fastseg", required=True, help="extracted ekzhang/fastseg snapshot (holds fastseg/)")
    parser.add_argument("--geffnet", required=True, help="extracted rwightman/gen-efficientnet-pytorch snapshot (holds geffnet/)")
    args = parser.parse_args()
    classes = import_originals(args.fastseg, args.geffnet)
    torch.set_num_threads(2)
    OUT_DIR.mkdir(parents=True, exist_ok=True)

    images = {}
    for height, width, seed in IMAGES:
        name = f"street_{height}x{width}"
        rgb = make_image(height, width, seed)
        Image.fromarray(rgb, "RGB").save(OUT_DIR / f"{name}.png")
        images[name] = rgb
    crops = real_crops(torch.Generator().manual_seed(0))

    manifest = {
        "torch": torch.__version__,
        "generator": "scripts/make_fastseg_fixtures.py",
        "preprocessing": {"scale": "1/255", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
        "tolerance": {"maxAbsDiff": 1e-3, "minArgmaxAgreement": 0.999},
        "sampleStep": SAMPLE_STEP,
        "models": [],
    }
    for class_name, filters, seed in VARIANTS:
        torch.manual_seed(seed)
        model = classes[class_name](NUM_CLASSES, num_filters=filters)
        calibrate(model, crops, torch.Generator().manual_seed(100 + seed))
        round_to_half(model)
        variant = f"{model.model_name}-f{filters}"
        dtype = torch.float32 if variant == FLOAT32_VARIANT else torch.float16
        state_dict = {
            f"module.{k}": (v.to(dtype) if v.is_floating_point() else v) for k, v in model.state_dict().items()
        }
        torch.save({"num_classes": NUM_CLASSES, "state_dict": state_dict}, OUT_DIR / f"{variant}.pt")
        entry = {
            "variant": variant,
            "arch": "fastseg_mobilev3_large" if class_name == "MobileV3Large" else "fastseg_mobilev3_small",
            "filters": filters,
            "numClasses": NUM_CLASSES,
            "weights": f"{variant}.pt",
            "dtype": "float32" if dtype == torch.float32 else "float16",
            "parameterCount": sum(p.numel() for p in model.parameters()),
            "cases": [],
        }
        for name, rgb in images.items():
            height, width = rgb.shape[:2]
            with torch.no_grad():
                logits = model(preprocess(rgb))[0].numpy()
            rows = list(range(0, height, SAMPLE_STEP)) + ([height - 1] if (height - 1) % SAMPLE_STEP else [])
            cols = list(range(0, width, SAMPLE_STEP)) + ([width - 1] if (width - 1) % SAMPLE_STEP else [])
            save_npy_gz(OUT_DIR / f"{variant}__{name}.argmax.npy.gz", logits.argmax(axis=0).astype(np.uint8))
            save_npy(OUT_DIR / f"{variant}__{name}.sample.npy", np.ascontiguousarray(logits[:, rows][:, :, cols]).astype(np.float32))
            entry["cases"].append({
                "image": f"{name}.png", "height": height, "width": width,
                "argmax": f"{variant}__{name}.argmax.npy.gz", "sample": f"{variant}__{name}.sample.npy",
                "logitStd": round(float(logits.std()), 3),
            })
            print(f"{variant} {name}: logit std {logits.std():.2f}, classes present {len(np.unique(logits.argmax(0)))}")
        manifest["models"].append(entry)
    (OUT_DIR / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
