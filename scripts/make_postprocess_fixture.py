#!/usr/bin/python3
"""Golden fixture for segmentation/postprocess: torch's bilinear upsample (align_corners=False).

Run with Debian's /usr/bin/python3 (it has torch):
    /usr/bin/python3 scripts/make_postprocess_fixture.py > test/fixtures/postprocess/bilinear-golden.json

Each case holds seeded random logits as NHWC [1, h, w, C] (the engine's layout), torch's
F.interpolate(..., mode='bilinear', align_corners=False) argmax over C and, for the small cases,
the interpolated values as NCHW [1, C, outH, outW]. Logits are multiples of 1/4096 so they print
short and exactly; float32 results are written exactly (a float32 converts to a double losslessly).
"""
import json
import sys

import torch
import torch.nn.functional as F

# (name, h, w, C, outH, outW, keep values): upscaling by odd and non-integer ratios, downscaling,
# same size, a single-row source, and the engine's stride-8 shape for a 97x131 image (argmax only,
# to keep the file small).
CASES = [
    ('up-odd', 4, 5, 3, 9, 13, True),
    ('up-non-integer', 5, 7, 4, 16, 21, True),
    ('down', 7, 6, 4, 3, 4, True),
    ('mixed', 3, 8, 5, 11, 5, True),
    ('same-size', 3, 4, 3, 3, 4, True),
    ('single-row', 1, 6, 3, 4, 10, True),
    ('stride8-97x131', 13, 17, 19, 97, 131, False),
]


def main() -> None:
    torch.manual_seed(20240601)
    cases = []
    for name, h, w, c, out_h, out_w, keep_values in CASES:
        logits = torch.round(torch.randn(1, c, h, w, dtype=torch.float32) * 4096) / 4096
        up = F.interpolate(logits, size=(out_h, out_w), mode='bilinear', align_corners=False)
        case = {
            'name': name,
            'logitsShape': [1, h, w, c],
            'logitsNHWC': logits.permute(0, 2, 3, 1).reshape(-1).tolist(),
            'outSize': [out_h, out_w],
            'argmax': up.argmax(dim=1).reshape(-1).tolist(),
        }
        if keep_values:
            case['upsampledNCHW'] = up.reshape(-1).tolist()
        cases.append(case)
    json.dump({'torch': torch.__version__, 'cases': cases}, sys.stdout, separators=(',', ':'))
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
