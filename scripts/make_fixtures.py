#!/usr/bin/python3
"""Golden fixtures for cityseg: torchvision parity cases and torch-checkpoint loader cases.

Run with Debian's interpreter, which has torch + torchvision:  /usr/bin/python3 scripts/make_fixtures.py
Deterministic: every model and image comes from a fixed seed, so re-running rewrites identical weights,
images and expected logits (up to torch's own CPU kernel determinism).

Writes
  test/fixtures/parity/   manifest.json, <image>.png, <arch>__<image>.npy (expected logits), weight files,
                          weights_samples.json (shape, sum and sample values of every tensor of every weight file),
                          imagenet_classes.json
  test/fixtures/weights/  small checkpoints exercising the loaders (strided views, dtypes, wrappers, bad files)
                          with <file>.json holding the exact expected float32 values.
"""
import argparse
import collections
import copy
import io
import json
import math
import pickle
import struct
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
WEIGHTS_DIR = ROOT / "test" / "fixtures" / "weights"

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Logit spread we aim for: large enough that argmax maps have structure and a 1e-3 absolute tolerance is
# meaningful, small enough that float32 round-off stays far below it.
TARGET_LOGIT_STD = 2.0

# Seeds of the images used only to calibrate the heads (see calibrate_head), 97x131 each.
CALIBRATION_SEEDS = [101, 102, 103, 104]

# (name, height, width, seed) of the deterministic test images.
IMAGES = [
    ("street_97x131", 97, 131, 11),
    ("street_64x96", 64, 96, 12),
    ("street_224x224", 224, 224, 13),
]

# One row per parity model: builder, task, classes, weight file format, cases (image names), torch seed.
MODELS = [
    dict(arch="lraspp_mobilenet_v3_large", task="segmentation", num_classes=19, seed=1,
         weights="lraspp_mobilenet_v3_large.pth", storage="pth-float32",
         images=["street_97x131", "street_64x96"],
         build=lambda: torchvision.models.segmentation.lraspp_mobilenet_v3_large(
             weights=None, weights_backbone=None, num_classes=19)),
    dict(arch="lraspp_mobilenet_v3_small", task="segmentation", num_classes=19, seed=2,
         weights="lraspp_mobilenet_v3_small.pth", storage="pth-float32",
         images=["street_97x131", "street_64x96"],
         # torchvision has no public builder for the small LR-ASPP; this is what its large builder does.
         build=lambda: _lraspp_mobilenetv3(torchvision.models.mobilenet_v3_small(dilated=True), 19)),
    dict(arch="mobilenet_v3_large", task="classification", num_classes=1000, seed=3,
         weights="mobilenet_v3_large.pth", storage="pth-float16",
         images=["street_97x131", "street_224x224"],
         build=lambda: torchvision.models.mobilenet_v3_large(weights=None)),
    dict(arch="mobilenet_v3_small", task="classification", num_classes=1000, seed=4,
         weights="mobilenet_v3_small.safetensors", storage="safetensors-float32",
         images=["street_97x131", "street_224x224"],
         build=lambda: torchvision.models.mobilenet_v3_small(weights=None)),
]

# Extra configurations whose parameter counts other tests assert (built, counted, not saved).
EXTRA_PARAMETER_COUNTS = [
    ("lraspp_mobilenet_v3_large", 21,
     lambda: torchvision.models.segmentation.lraspp_mobilenet_v3_large(
         weights=None, weights_backbone=None, num_classes=21)),
    ("lraspp_mobilenet_v3_small", 21,
     lambda: _lraspp_mobilenetv3(torchvision.models.mobilenet_v3_small(dilated=True), 21)),
]

SAFETENSORS_DTYPES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL",
}


# ----------------------------------------------------------------------------------------------- helpers

def float32_json(value):
    """A float32 value as JSON: the exact double of the float32, or a string for the non-finite ones."""
    v = float(np.float32(value))
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def tensor_as_float32(t):
    """What the TypeScript loaders must produce: the tensor's values cast to float32, row-major."""
    if t.dtype == torch.int64:
        # JS converts int64 via float64 (Number(bigint)) then to float32; mirror that double rounding.
        return np.array([np.float32(float(v)) for v in t.reshape(-1).tolist()], dtype=np.float32)
    return t.detach().to(torch.float32).contiguous().reshape(-1).numpy()


def write_expected_values(path, tensors):
    write_json(path, expected_values_json(tensors), expand_depth=2)


def expected_values_json(tensors):
    return {
        "tensors": {
            name: {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""),
                   "values": [float32_json(v) for v in tensor_as_float32(t)]}
            for name, t in tensors.items()
        }
    }


def write_json(path, obj, expand_depth=None):
    """Indented JSON; below expand_depth levels each value stays on one line (keeps big tables diffable)."""
    if expand_depth is None:
        path.write_text(json.dumps(obj, indent=1) + "\n")
        return

    def render(value, depth):
        if depth >= expand_depth or not isinstance(value, (dict, list)):
            return json.dumps(value, separators=(",", ":"))
        pad = " " * (depth + 1)
        if isinstance(value, list):
            return "[\n" + ",\n".join(pad + render(v, depth + 1) for v in value) + "\n" + " " * depth + "]"
        items = [f"{pad}{json.dumps(k)}: {render(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * depth + "}"

    path.write_text(render(obj, 0) + "\n")


def write_safetensors(path, tensors, metadata=None):
    """safetensors format: u64 LE header length, JSON header {name: {dtype, shape, data_offsets}}, raw LE data."""
    header = {}
    chunks = []
    offset = 0
    for name, t in tensors.items():
        if t.dtype == torch.bool:
            raw = t.contiguous().numpy().astype(np.uint8).tobytes()
        else:
            raw = t.detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
        header[name] = {"dtype": SAFETENSORS_DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if metadata:
        header = {"__metadata__": metadata, **header}
    header_bytes = json.dumps(header, separators=(",", ":")).encode()
    header_bytes += b" " * (-len(header_bytes) % 8)  # the format pads the header to 8-byte alignment
    path.write_bytes(struct.pack("<Q", len(header_bytes)) + header_bytes + b"".join(chunks))


def make_image(height, width, seed):
    """A smooth 'scene' (sky gradient, road, blobs, stripes) plus noise, so argmax maps form regions.

    The seed moves the layout as well as the noise, so different seeds give different scenes.
    """
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    yn, xn = y / (height - 1), x / (width - 1)
    phase = rng.uniform(0.0, 2.0 * math.pi, 2)
    img = np.zeros((height, width, 3))
    img[..., 0] = 120 + 90 * np.sin(2.0 * math.pi * (0.8 * xn + 0.3 * yn) + phase[0])
    img[..., 1] = 110 + 80 * np.cos(2.0 * math.pi * (0.5 * xn - 1.1 * yn) + phase[1])
    img[..., 2] = 200 - 150 * yn
    horizon = rng.uniform(0.55, 0.75)
    road = yn > horizon + 0.1 * np.sin(3.0 * xn + phase[0])
    img[road] = (90, 90, 95)
    for _ in range(3):
        cy, cx, r = rng.uniform(0.2, 0.7), rng.uniform(0.1, 0.9), rng.uniform(0.08, 0.2)
        disc = (yn - cy) ** 2 + ((xn - cx) * width / height) ** 2 < r ** 2
        img[disc] = rng.integers(0, 256, 3)
    stripes = (np.floor(xn * rng.integers(5, 12)) % 2 == 0) & (yn > horizon + 0.15)
    img[stripes] = (245, 245, 240)
    img += rng.normal(0.0, 12.0, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def preprocess(rgb_uint8):
    """torchvision's eval transform without resizing: /255, ImageNet mean/std, NCHW."""
    x = torch.from_numpy(rgb_uint8).permute(2, 0, 1).to(torch.float32) / 255.0
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return ((x - mean) / std).unsqueeze(0)


def randomise_batchnorm(model, generator):
    """Non-trivial BN statistics and affine terms, so folding BN into convolutions is actually tested."""
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            n = module.num_features
            module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(n, generator=generator) * 1.5 + 0.5)
            module.weight.copy_(torch.rand(n, generator=generator) + 0.5)
            module.bias.copy_(torch.randn(n, generator=generator) * 0.1)


def final_layers(model, task):
    if task == "classification":
        return [model.classifier[3]]
    return [model.classifier.low_classifier, model.classifier.high_classifier]


def forward(model, task, x):
    out = model(x)
    return out["out"] if task == "segmentation" else out


def calibrate_head(model, task, calibration_inputs):
    """Make the head's logits depend on the input, at a sane magnitude. Returns the weight scale factor.

    With torchvision's init plus random BN the logits are ~1e-2..1e-1. For segmentation they are dominated
    by a per-class constant (bias + weights . mean feature), so every pixel has the same argmax: over
    calibration images (not the test cases) we subtract each class's mean logit via the last layer's bias,
    then scale the last layer(s) so the remaining, pixel-driven logits have std TARGET_LOGIT_STD (one factor
    for both LR-ASPP branches keeps their relative contributions). A classifier sees globally pooled
    features that barely change between images, so centring would only amplify round-off: there we only
    scale the last layer so the logits over classes have std TARGET_LOGIT_STD.
    """
    outputs = [forward(model, task, x) for x in calibration_inputs]
    layers = final_layers(model, task)
    if task == "segmentation":
        logits = torch.cat([o.movedim(1, -1).reshape(-1, o.shape[1]) for o in outputs])
        class_mean = logits.mean(dim=0)
        logits = logits - class_mean
        layers[0].bias.sub_(class_mean)  # a constant per class; adding it to one branch shifts the sum
    else:
        logits = torch.cat(outputs)
    factor = TARGET_LOGIT_STD / float(logits.std())
    for layer in layers:
        layer.weight.mul_(factor)
        layer.bias.mul_(factor)
    return factor


def round_floats_to_half(model):
    for tensor in list(model.parameters()) + list(model.buffers()):
        if tensor.is_floating_point():
            tensor.copy_(tensor.half().float())


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


def sample_summary(state_dict, storage_dtype, generator):
    """Per tensor: shape, dtype on disk, float64 sum of the float32 values, and 4 exact sample values."""
    summary = {}
    for name, t in state_dict.items():
        values = tensor_as_float32(t)
        n = values.size
        picks = sorted({0, n - 1, int(generator.integers(n)), int(generator.integers(n))})
        on_disk = "int64" if t.dtype == torch.int64 else storage_dtype
        summary[name] = {
            "shape": list(t.shape), "dtype": on_disk,
            "sum": float(values.astype(np.float64).sum()),
            "sumAbs": float(np.abs(values.astype(np.float64)).sum()),
            "samples": [[i, float32_json(values[i])] for i in picks],
        }
    return summary


def argmax_stats(logits):
    top2 = torch.topk(logits, 2, dim=1).values
    gap = top2[:, 0] - top2[:, 1]
    classes = logits.argmax(dim=1)
    counts = torch.bincount(classes.reshape(-1), minlength=logits.shape[1])
    return {
        "distinctArgmax": int((counts > 0).sum()),
        "largestClassFraction": round(float(counts.max()) / classes.numel(), 4),
        "minTop2Gap": float(gap.min()),
    }


# ----------------------------------------------------------------------------------------------- parity

def make_parity_fixtures():
    PARITY_DIR.mkdir(parents=True, exist_ok=True)
    images = {}
    for name, height, width, seed in IMAGES:
        rgb = make_image(height, width, seed)
        Image.fromarray(rgb, "RGB").save(PARITY_DIR / f"{name}.png")
        images[name] = rgb

    calibration_inputs = [preprocess(make_image(97, 131, seed)) for seed in CALIBRATION_SEEDS]
    manifest_models = []
    samples = {}
    for spec in MODELS:
        torch.manual_seed(spec["seed"])
        model = spec["build"]().eval()
        count = parameter_count(model)
        with torch.no_grad():
            randomise_batchnorm(model, torch.Generator().manual_seed(1000 + spec["seed"]))
            factor = calibrate_head(model, spec["task"], calibration_inputs)
            if spec["storage"] == "pth-float16":
                # Expected outputs must come from exactly the weights the file holds.
                round_floats_to_half(model)

            state_dict = model.state_dict()
            weights_path = PARITY_DIR / spec["weights"]
            if spec["storage"] == "pth-float32":
                torch.save(state_dict, weights_path)
            elif spec["storage"] == "pth-float16":
                half = collections.OrderedDict(
                    (k, v.half() if v.is_floating_point() else v) for k, v in state_dict.items())
                torch.save(half, weights_path)
            else:
                write_safetensors(weights_path, state_dict, metadata={"format": "pt"})
            disk_dtype = {"pth-float16": "float16"}.get(spec["storage"], "float32")
            samples[spec["weights"]] = sample_summary(
                state_dict, disk_dtype, np.random.default_rng(spec["seed"]))

            cases = []
            for image_name in spec["images"]:
                rgb = images[image_name]
                logits = forward(model, spec["task"], preprocess(rgb))
                expected = f"{spec['arch']}__{image_name}.npy"
                np.save(PARITY_DIR / expected, logits.numpy().astype("<f4"))
                # How far torch's own float32 result is from float64: the floor any float32 port can reach.
                reference = forward(copy.deepcopy(model).double(), spec["task"], preprocess(rgb).double())
                case = {"image": f"{image_name}.png", "height": rgb.shape[0], "width": rgb.shape[1],
                        "expected": expected, "shape": list(logits.shape),
                        "maxAbsLogit": round(float(logits.abs().max()), 4),
                        "float32VsFloat64MaxAbsDiff": float(f"{float((logits.double() - reference).abs().max()):.3e}")}
                case.update(argmax_stats(logits if spec["task"] == "segmentation" else logits.view(1, -1, 1)))
                cases.append(case)
                print(f"{spec['arch']:28s} {image_name:16s} max|logit| {case['maxAbsLogit']:8.3f} "
                      f"classes {case['distinctArgmax']:3d} min top-2 gap {case['minTop2Gap']:.2e} "
                      f"f32-f64 {case['float32VsFloat64MaxAbsDiff']:.1e} head x{factor:.1f}")

        manifest_models.append({
            "arch": spec["arch"], "task": spec["task"], "numClasses": spec["num_classes"],
            "weights": spec["weights"], "weightsStorage": spec["storage"], "seed": spec["seed"],
            "headScale": round(factor, 6), "calibrationSeeds": CALIBRATION_SEEDS, "parameterCount": count, "cases": cases,
        })

    counts = [{"arch": m["arch"], "numClasses": m["numClasses"], "parameterCount": m["parameterCount"]}
              for m in manifest_models]
    for arch, num_classes, build in EXTRA_PARAMETER_COUNTS:
        counts.append({"arch": arch, "numClasses": num_classes, "parameterCount": parameter_count(build())})

    manifest = {
        "torch": torch.__version__, "torchvision": torchvision.__version__,
        "generator": "scripts/make_fixtures.py",
        "preprocessing": {"scale": "1/255", "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD),
                          "resize": None},
        "tolerance": {"maxAbsDiff": 1e-3, "minArgmaxAgreement": 0.999},
        "parameterCounts": counts,
        "models": manifest_models,
    }
    write_json(PARITY_DIR / "manifest.json", manifest)
    write_json(PARITY_DIR / "weights_samples.json", samples, expand_depth=2)
    categories = torchvision.models.MobileNet_V3_Large_Weights.IMAGENET1K_V1.meta["categories"]
    write_json(PARITY_DIR / "imagenet_classes.json", list(categories))


# ----------------------------------------------------------------------------------------------- loader

def view_tensors():
    """Tensors whose storage layout is not simply contiguous, plus one of every dtype the loaders convert."""
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    grid = torch.arange(40, dtype=torch.float32).reshape(5, 8) * 0.5
    shared = torch.linspace(-1.0, 1.0, 10)
    torch.manual_seed(7)
    return collections.OrderedDict([
        ("transposed", base.t()),                      # strides (1, 4)
        ("sliced", grid[1:4, 2:7:2]),                   # storage offset 10, strides (8, 2)
        ("shared_whole", shared),                       # two entries, one storage
        ("shared_window", shared[3:7]),
        ("broadcast", torch.tensor([1.0, 2.0, 3.0]).expand(2, 3)),  # stride 0
        ("parameter", torch.nn.Parameter(torch.randn(2, 3))),        # pickled via _rebuild_parameter
        ("scalar", torch.tensor(3.5)),
        ("empty", torch.zeros(0, 3)),
        ("f64", torch.tensor([1.0 / 3.0, -2.5e-3, 123456.789, 1e-46], dtype=torch.float64)),
        ("f16", torch.tensor([1.0, -2.0, 65504.0, 6e-8, 1e-5, 0.1, float("inf"), float("-inf"),
                              float("nan"), -0.0], dtype=torch.float16)),
        ("bf16", torch.tensor([[1.0, -3.140625, 1e38], [1e-39, float("inf"), 0.1]], dtype=torch.bfloat16)),
        ("i64", torch.tensor([0, -1, 2 ** 31, -(2 ** 40), 2 ** 53 + 1, 2 ** 63 - 1], dtype=torch.int64)),
        ("i32", torch.tensor([-(2 ** 31), 2 ** 31 - 1, 16777217], dtype=torch.int32)),
        ("i16", torch.tensor([-32768, 32767, 5], dtype=torch.int16)),
        ("i8", torch.tensor([-128, 127, -1], dtype=torch.int8)),
        ("u8", torch.tensor([0, 255, 128], dtype=torch.uint8)),
        ("bool", torch.tensor([True, False, True])),
        ("f64_transposed", torch.arange(6, dtype=torch.float64).reshape(2, 3).t() / 7.0),
    ])


def rewrite_zip(source_bytes, compression, byteorder=None, storage_dtypes=None):
    """Copy a torch zip with Python's zipfile (a different writer), optionally deflated or big-endian."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(source_bytes)) as src, zipfile.ZipFile(out, "w", compression) as dst:
        prefix = src.namelist()[0].split("/")[0]
        for info in src.infolist():
            data = src.read(info.filename)
            key = info.filename[len(prefix) + len("/data/"):]
            if byteorder == "big" and info.filename.startswith(f"{prefix}/data/"):
                itemsize = storage_dtypes[key].itemsize
                data = np.frombuffer(data, dtype=f"<u{itemsize}").astype(f">u{itemsize}").tobytes()
            dst.writestr(fixed_time_entry(info.filename, compression), data)
        if byteorder:
            dst.writestr(fixed_time_entry(f"{prefix}/byteorder", compression), byteorder)
    return out.getvalue()


def fixed_time_entry(name, compression=zipfile.ZIP_STORED):
    """A zip entry with a constant timestamp, so rewritten archives are byte-identical run to run."""
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = compression
    return info


def pickle_samples():
    """One nested object pickled with protocols 2-5, and its JSON form, for the pickle VM's own tests."""
    shared = [1, 2]
    sample = {
        "ints": [0, 1, -1, 255, 256, 65535, 65536, -(2 ** 31), 2 ** 31, 2 ** 40, 2 ** 53 + 1, -(2 ** 70)],
        "floats": [1.5, -0.0, 1e300, -2.5e-310],
        "flags": [True, False, None],
        "text": ["", "ascii", "\u00fcn\u00efc\u00f6d\u00e9 \u2713", "x" * 300],
        "nested": {"tuple": (1, (2, 3), ()), "list": [[], [[]]], "7": "digit key"},
        "shared": [shared, shared],
    }

    def as_json(value):
        if isinstance(value, dict):
            return {k: as_json(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [as_json(v) for v in value]
        if isinstance(value, bytes):
            return "bytes:" + value.hex()
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2 ** 53:
            return f"big:{value}"
        return value

    cases = []
    for protocol in (2, 3, 4, 5):
        obj = dict(sample, raw=b"\x00\x01\xff" * 100) if protocol >= 3 else sample  # bytes need protocol 3
        cases.append({"protocol": protocol, "hex": pickle.dumps(obj, protocol=protocol).hex(),
                      "expected": as_json(obj)})
    return cases


class Scale(torch.nn.Module):
    """A module without TorchScript constants, whose order in the archive varies with the hash seed."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.tensor([1.0, 2.0]))

    def forward(self, x):
        return x * self.weight


def make_loader_fixtures():
    WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
    views = view_tensors()
    # A plain dict (not OrderedDict) exercises the EMPTY_DICT path rather than collections.OrderedDict.
    torch.save(dict(views), WEIGHTS_DIR / "views.pth")
    write_expected_values(WEIGHTS_DIR / "views.json", views)

    small = collections.OrderedDict([
        ("layer.weight", torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4.0),
        ("layer.bias", torch.tensor([0.5, -0.25])),
        ("bn.running_var", torch.tensor([1.5, 2.5], dtype=torch.float16)),
        ("bn.num_batches_tracked", torch.tensor(12345, dtype=torch.int64)),
    ])
    torch.save({"state_dict": small, "epoch": 7, "lr": 0.01, "best": None,
                "history": [1.5, 2.5, (3, "x")], "args": argparse.Namespace(lr=0.1, name="run")},
               WEIGHTS_DIR / "wrapped_state_dict.pth")
    torch.save({"model": small, "optimizer": {"state": {}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]}},
               WEIGHTS_DIR / "wrapped_model.pth")
    write_expected_values(WEIGHTS_DIR / "small.json", small)
    write_json(WEIGHTS_DIR / "pickles.json", pickle_samples(), expand_depth=2)
    # Protocol 4 adds FRAME, MEMOIZE, SHORT_BINUNICODE and STACK_GLOBAL to what the pickle VM must run.
    torch.save(small, WEIGHTS_DIR / "protocol4.pth", pickle_protocol=4)

    buffer = io.BytesIO()
    torch.save(small, buffer)
    (WEIGHTS_DIR / "deflated.pth").write_bytes(rewrite_zip(buffer.getvalue(), zipfile.ZIP_DEFLATED))
    # Storage keys follow pickling order: one storage per tensor here, so key i holds tensor i.
    dtypes = {str(i): t.numpy().dtype for i, t in enumerate(small.values())}
    (WEIGHTS_DIR / "bigendian.pth").write_bytes(
        rewrite_zip(buffer.getvalue(), zipfile.ZIP_STORED, "big", dtypes))

    # Files the loader must refuse with a clear message.
    # Tensors in the legacy format get memory-address keys; the refusal only needs its header, so save none.
    torch.save({"epoch": 7}, WEIGHTS_DIR / "legacy.pth", _use_new_zipfile_serialization=False)
    torch.manual_seed(8)
    torch.save(torch.nn.Linear(2, 3), WEIGHTS_DIR / "whole_module.pth")
    torch.save(torch.zeros(2, 2), WEIGHTS_DIR / "bare_tensor.pth")
    torch.jit.save(torch.jit.script(Scale()), WEIGHTS_DIR / "torchscript.pt")
    with zipfile.ZipFile(WEIGHTS_DIR / "no_data_pkl.pth", "w", zipfile.ZIP_STORED) as z:
        z.writestr(fixed_time_entry("archive/version"), "3\n")
        z.writestr(fixed_time_entry("archive/data/0"), b"\0" * 16)

    torch.manual_seed(9)
    st = collections.OrderedDict([
        ("f32", torch.randn(2, 3)),
        ("f16", torch.tensor([1.0, -0.5, 65504.0, 6e-8, float("inf"), float("nan")], dtype=torch.float16)),
        ("bf16", torch.tensor([[1.0, -3.140625], [1e38, 1e-39]], dtype=torch.bfloat16)),
        ("f64", torch.tensor([1.0 / 3.0, -1e-3], dtype=torch.float64)),
        ("i64", torch.tensor([[-5, 2 ** 40], [2 ** 53 + 1, 0]], dtype=torch.int64)),
        ("i32", torch.tensor([-7, 2 ** 30], dtype=torch.int32)),
        ("u8", torch.tensor([0, 200], dtype=torch.uint8)),
        ("bool", torch.tensor([True, False])),
        ("scalar", torch.tensor(2.25)),
        ("empty", torch.zeros(0, 4)),
    ])
    write_safetensors(WEIGHTS_DIR / "dtypes.safetensors", st, metadata={"format": "pt", "note": "cityseg fixture"})
    write_expected_values(WEIGHTS_DIR / "dtypes.json", st)


def main():
    torch.set_num_threads(2)
    make_loader_fixtures()
    make_parity_fixtures()
    total = sum(p.stat().st_size for d in (PARITY_DIR, WEIGHTS_DIR) for p in d.rglob("*") if p.is_file())
    print(f"fixtures: {total / 1e6:.1f} MB in {PARITY_DIR.relative_to(ROOT)} and {WEIGHTS_DIR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
