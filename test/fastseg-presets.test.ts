/** fastseg's five presets: names, URLs, facts from fastseg's README, and parameter counts equal to the built networks. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UNTRAINED_DEFAULTS } from '../model/load-model.js';
import { networkSpec, parameterCount } from '../model/network-spec.js';
import { chooseWeights } from '../model/weights/weights-choice.js';
import { DEFAULT_SEGMENTATION_PRESET, FASTSEG_PRESETS, findPreset, PRESETS, presetUrl } from '../model/weights/presets.js';
import { presetCachePath } from '../model/weights/source.js';

const RELEASE = 'https://github.com/ekzhang/fastseg/releases/download/v0.1-weights/';

describe('fastseg presets', () => {
  it('name the five published checkpoints with their URLs, F, mIoU and Cityscapes classes', () => {
    const rows = FASTSEG_PRESETS.map((p) => [p.name, p.arch, p.filters, presetUrl(p), p.metrics?.values.miou ?? null, p.isDefault]);
    assert.deepEqual(rows, [
      ['fastseg:mobilev3large-lraspp-f128', 'fastseg_mobilev3_large', 128, `${RELEASE}mobilev3large-lraspp-f128-9cbabfde.pt`, 72.3, true],
      ['fastseg:mobilev3large-lraspp-f256', 'fastseg_mobilev3_large', 256, `${RELEASE}mobilev3large-lraspp-f256-9b613ffd.pt`, 72.3, false],
      ['fastseg:mobilev3small-lraspp-f256', 'fastseg_mobilev3_small', 256, `${RELEASE}mobilev3small-lraspp-f256-d853f901.pt`, 67.1, true],
      ['fastseg:mobilev3small-lraspp-f128', 'fastseg_mobilev3_small', 128, `${RELEASE}mobilev3small-lraspp-f128-a39a1e4b.pt`, null, false],
      ['fastseg:mobilev3small-lraspp-f64', 'fastseg_mobilev3_small', 64, `${RELEASE}mobilev3small-lraspp-f64-114fc23b.pt`, null, false],
    ]);
    for (const p of FASTSEG_PRESETS) {
      assert.deepEqual([p.numClasses, p.labels, p.preprocessing, p.prefixCheck, p.sha256, p.bytes], [19, 'cityscapes', { resizeShortSide: null }, 'warn', undefined, undefined]);
      assert.match(p.terms ?? '', /non-commercial/);
      assert.equal(p.parameterCount, parameterCount(networkSpec(p.arch, { filters: p.filters })), `${p.name} parameter count`);
      assert.equal(findPreset(p.name, PRESETS), p);
    }
  });

  it('fetch from the mirror when one is set, and cache apart from torchvision', () => {
    const f128 = findPreset(DEFAULT_SEGMENTATION_PRESET, PRESETS);
    assert.equal(presetUrl(f128, 'http://mirror.internal/w'), 'http://mirror.internal/w/mobilev3large-lraspp-f128-9cbabfde.pt');
    assert.equal(presetCachePath(f128, '/c'), '/c/weights/fastseg/mobilev3large-lraspp-f128-9cbabfde.pt');
  });

  it('are the default for segmentation; torchvision\'s VOC LR-ASPP stays a preset', () => {
    assert.equal(UNTRAINED_DEFAULTS.segmentation.arch, 'fastseg_mobilev3_large');
    const request = { task: 'segmentation' as const, defaultArch: UNTRAINED_DEFAULTS.segmentation.arch };
    assert.deepEqual(chooseWeights(request, PRESETS), { arch: 'fastseg_mobilev3_large', numClasses: 19, labels: 'cityscapes', weights: DEFAULT_SEGMENTATION_PRESET, origin: 'default-preset' });
    const voc = chooseWeights({ ...request, weights: 'torchvision:lraspp_mobilenet_v3_large' }, PRESETS);
    assert.deepEqual([voc.arch, voc.numClasses, voc.labels], ['lraspp_mobilenet_v3_large', 21, 'voc']);
    // Offline the fallback is the same architecture and class set, untrained.
    assert.deepEqual(chooseWeights({ ...request, weights: 'none' }, PRESETS).arch, 'fastseg_mobilev3_large');
  });
});
