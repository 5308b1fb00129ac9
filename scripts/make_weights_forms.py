#!/usr/bin/python3
"""Checkpoint forms as torch itself writes them, for "weights by file".

Run with Debian's interpreter (python3-torch, python3-torchvision):  /usr/bin/python3 scripts/make_weights_forms.py
Needs the parity fixtures first (scripts/make_fixtures.py): every parity form holds the seeded LR-ASPP
MobileNetV3-Small weights of test/fixtures/parity/lraspp_mobilenet_v3_small.pth rounded to float16 (half the
bytes; the expected logits come from exactly those values), so one expected output serves every form.

Writes test/fixtures/weights/forms/
  legacy.pth         torch.save(state_dict, _use_new_zipfile_serialization=False)
  dataparallel.pth   nn.DataParallel(model).state_dict(): every key "module."-prefixed
  training.pth       torchvision's reference-script checkpoint: model, optimizer, lr_scheduler, epoch,
                     args (argparse.Namespace), scaler, model_ema (AveragedModel: "module." keys and n_averaged);
                     model_ema shares every storage with model except classifier.high_classifier.bias, which is
                     shifted by EMA_BIAS_SHIFT (so its expected logits are model's plus that shift per class)
  voc21_zeros.pth    LR-ASPP Small with 21 classes, weights zero (running_var one), deflated: tiny
  backbone_only.pth  model.backbone.state_dict() of that model (keys without "backbone."), deflated
  lraspp_small__street_64x96.npy   expected logits of the float16 weights on parity/street_64x96.png
  manifest.json      the facts the tests assert (classes, shift, tolerance)
"""
import argparse
import collections
import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision.models.segmentation.lraspp import _lraspp_mobilenetv3

ROOT = Path(__file__).resolve().parent.parent
PARITY_DIR = ROOT / "test" / "fixtures" / "parity"
FORMS_DIR = ROOT / "test" / "fixtures" / "weights" / "forms"
IMAGE = "street_64x96"
EMA_BIAS_SHIFT = [0.25 * ((c % 5) - 2) for c in range(19)]

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_fixtures import fixed_time_entry, preprocess  # noqa: E402  (same preprocessing as the parity fixtures)


def lraspp_small(num_classes):
    # torchvision has no public builder for the small LR-ASPP; this is what its large builder does.
    return _lraspp_mobilenetv3(torchvision.models.mobilenet_v3_small(dilated=True), num_classes).eval()


def deflated(path_bytes):
    """The same zip re-written deflated by Python's zipfile: zero weights shrink to almost nothing."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(path_bytes)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(fixed_time_entry(info.filename, zipfile.ZIP_DEFLATED), src.read(info.filename))
    return out.getvalue()


def saved(obj, **kwargs):
    buffer = io.BytesIO()
    torch.save(obj, buffer, **kwargs)
    return buffer.getvalue()


def logits_of(model, rgb):
    with torch.no_grad():
        return model(preprocess(rgb))["out"]


def main():
    FORMS_DIR.mkdir(parents=True, exist_ok=True)
    model = lraspp_small(19)
    model.load_state_dict(torch.load(PARITY_DIR / "lraspp_mobilenet_v3_small.pth"))
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(tensor.half().float())
    half = collections.OrderedDict(
        (k, v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items())
    rgb = np.array(Image.open(PARITY_DIR / f"{IMAGE}.png").convert("RGB"))
    expected = logits_of(model, rgb)
    np.save(FORMS_DIR / f"lraspp_small__{IMAGE}.npy", expected.numpy().astype("<f4"))

    (FORMS_DIR / "legacy.pth").write_bytes(saved(half, _use_new_zipfile_serialization=False))

    parallel = torch.nn.DataParallel(model).state_dict()
    assert all(k.startswith("module.") for k in parallel)
    (FORMS_DIR / "dataparallel.pth").write_bytes(
        saved(collections.OrderedDict((k, half[k[len("module."):]]) for k in parallel)))

    # torchvision/references/segmentation/train.py: checkpoint = {"model", "optimizer", "lr_scheduler", "epoch", "args"}
    # (+ "scaler" with --amp); classification's train.py adds "model_ema" (utils.ExponentialMovingAverage).
    ema_keys = list(torch.optim.swa_utils.AveragedModel(model).state_dict().keys())
    shift = torch.tensor(EMA_BIAS_SHIFT)
    ema_bias = (model.classifier.high_classifier.bias.detach() + shift).half()
    ema = collections.OrderedDict()
    for key in ema_keys:
        if key == "n_averaged":
            ema[key] = torch.tensor(120, dtype=torch.long)
        else:
            name = key[len("module."):]
            ema[key] = ema_bias if name == "classifier.high_classifier.bias" else half[name]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=10)
    args = argparse.Namespace(model="lraspp_mobilenet_v3_small", dataset="cityscapes", lr=0.02, epochs=30,
                              batch_size=8, model_ema=True, model_ema_decay=0.99998, amp=False)
    checkpoint = {"model": half, "optimizer": optimizer.state_dict(), "lr_scheduler": scheduler.state_dict(),
                  "epoch": 29, "args": args, "scaler": {"scale": 65536.0, "growth_factor": 2.0},
                  "model_ema": ema}
    (FORMS_DIR / "training.pth").write_bytes(saved(checkpoint))

    ema_model = lraspp_small(19)
    ema_model.load_state_dict(collections.OrderedDict(
        (k[len("module."):], v.float()) for k, v in ema.items() if k != "n_averaged"))
    ema_diff = (logits_of(ema_model, rgb) - expected - shift.view(1, -1, 1, 1)).abs().max().item()
    assert ema_diff < 1e-5, ema_diff

    zeros = lraspp_small(21)
    with torch.no_grad():
        for name, tensor in zeros.state_dict().items():
            if tensor.is_floating_point():
                tensor.fill_(1.0 if name.endswith("running_var") else 0.0)
    (FORMS_DIR / "voc21_zeros.pth").write_bytes(deflated(saved(zeros.state_dict())))
    (FORMS_DIR / "backbone_only.pth").write_bytes(deflated(saved(zeros.backbone.state_dict())))

    manifest = {
        "torch": torch.__version__, "torchvision": torchvision.__version__,
        "generator": "scripts/make_weights_forms.py",
        "arch": "lraspp_mobilenet_v3_small", "numClasses": 19, "storage": "float16",
        "image": f"{IMAGE}.png", "expected": f"lraspp_small__{IMAGE}.npy",
        "emaBiasShift": EMA_BIAS_SHIFT, "emaShiftCheckMaxAbsDiff": float(f"{ema_diff:.3e}"),
        "parity": ["legacy.pth", "dataparallel.pth", "training.pth"],
        "voc21": {"file": "voc21_zeros.pth", "numClasses": 21},
    }
    (FORMS_DIR / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    for path in sorted(FORMS_DIR.iterdir()):
        print(f"{path.name:32s} {path.stat().st_size:>9d} bytes")


if __name__ == "__main__":
    sys.exit(main())
