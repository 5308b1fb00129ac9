// The page's behaviour: pick an image, ask the API once for its segmentation (and the top-5), draw the views locally.
import { ApiProblem, classifyImage, fetchModels, segmentImage } from './api.js';
import { classMapFromStats, imagePixels, pngOf, viewPixels } from './mask.js';
import { formatPercent, renderLegend, renderModelInfo, renderProblems, renderTopK, untrainedWarning } from './render.js';
import { hideVideo, isVideo, runVideo } from './video.js';

const $ = (id) => document.getElementById(id);
const MODELS_RETRY_MS = 2000;
const TOP_K = 5;
/** Cityscapes label ids are 0..33: brightening ×7.5 spreads them over 0..247 so the mask is visible. */
const LABEL_ID_BRIGHTNESS = 7.5;

const FORMAT_CAPTIONS = { color: 'Colour mask', overlay: 'Overlay', labelIds: 'Label IDs' };
const FORMAT_NOTES = {
  color: '',
  overlay: '',
  labelIds: `Grey level = Cityscapes label id, brightened ×${LABEL_ID_BRIGHTNESS} here; the download holds the raw ids.`,
};

const state = {
  file: null,
  models: [],
  /** The json answer for the current file: the legend, the status line and (its RLE) every view come from it. */
  stats: null,
  /** The class index of every pixel, decoded from the answer's RLE. */
  classMap: null,
  /** Bumped per drawing, so a slow PNG encode of an older view never replaces a newer one. */
  drawing: 0,
  /** Aborts the requests of the previous image when a new one is chosen. */
  controller: null,
  /** Object URLs in use, revoked when replaced. */
  urls: { input: null, mask: null },
};

function replaceUrl(slot, blob) {
  if (state.urls[slot]) URL.revokeObjectURL(state.urls[slot]);
  state.urls[slot] = blob ? URL.createObjectURL(blob) : null;
  return state.urls[slot];
}

function options() {
  return {
    format: document.querySelector('input[name="format"]:checked').value,
    alpha: Number($('alpha-input').value),
    model: $('model-control').hidden ? undefined : $('model-select').value,
  };
}

const hasClassifier = () => state.models.some((model) => model.task === 'classification');

function setBusy(busy, message = '') {
  $('results').setAttribute('aria-busy', String(busy));
  $('status').textContent = message;
}

async function loadModels() {
  try {
    state.models = await fetchModels();
  } catch (problem) {
    if (!(problem instanceof ApiProblem)) throw problem;
    renderProblems($('error'), [problem]);
    return;
  }
  renderModelInfo($('model-info'), state.models);
  const warning = untrainedWarning(state.models);
  $('untrained-warning').hidden = warning === null;
  $('untrained-detail').textContent = warning ?? '';
  const segmenters = state.models.filter((model) => model.task === 'segmentation');
  $('model-select').replaceChildren(...segmenters.map((model) => new Option(model.id, model.id)));
  $('model-control').hidden = segmenters.length < 2;
  const classifier = state.models.find((model) => model.task === 'classification');
  $('classifier-name').textContent = classifier ? `· ${classifier.id}${classifier.weights.trained ? '' : ' (untrained)'}` : '';
  // Models register after warm-up: until then the list is empty, so ask again.
  if (segmenters.length === 0) setTimeout(loadModels, MODELS_RETRY_MS);
}

function showInput(file) {
  const image = $('input-image');
  image.src = replaceUrl('input', file);
  image.alt = `Input image: ${file.name}`;
  $('file-name').textContent = file.name;
  $('input-size').textContent = '';
  image.decode().then(
    () => {
      $('input-size').textContent = `${image.naturalWidth} × ${image.naturalHeight}`;
    },
    () => {
      image.removeAttribute('src'); // the browser cannot show it; the server's verdict follows
    },
  );
}

function showMask(blob, format, { width, height }) {
  const image = $('mask-image');
  image.src = replaceUrl('mask', blob);
  image.alt = `${FORMAT_CAPTIONS[format]} of ${state.file.name}, ${width} × ${height} pixels`;
  image.classList.toggle('label-ids', format === 'labelIds');
  image.style.setProperty('--label-brightness', String(LABEL_ID_BRIGHTNESS));
  $('mask-caption').textContent = FORMAT_CAPTIONS[format];
  $('mask-note').textContent = FORMAT_NOTES[format];
  $('mask-size').textContent = `${width} × ${height}`;
  const download = $('mask-download');
  download.href = state.urls.mask;
  download.download = `${state.file.name.replace(/\.[^.]+$/, '')}-${format}.png`;
  download.hidden = false;
}

/** Draws the chosen view of the current answer, in the browser: no request. */
async function draw() {
  if (!state.stats || !state.classMap) return;
  const ticket = ++state.drawing;
  const { format, alpha } = options();
  const { width, height, classes } = state.stats;
  const input = format === 'overlay' ? imagePixels($('input-image'), width, height) : null;
  const blob = await pngOf(viewPixels(format, state.classMap, classes, { input, alpha }), width, height);
  if (ticket !== state.drawing) return;
  showMask(blob, format, { width, height });
}

function clearMask() {
  const image = $('mask-image');
  image.removeAttribute('src');
  image.alt = '';
  replaceUrl('mask', null);
  $('mask-size').textContent = '';
  $('mask-download').hidden = true;
}

function statusLine(stats) {
  if (!stats) return '';
  const { width, height, inferenceSize, timings } = stats;
  const main = [...stats.classes].sort((a, b) => b.pixels - a.pixels)[0];
  return `${width} × ${height} px · inference ${Math.round(timings.inferenceMs)} ms at ` +
    `${inferenceSize.width} × ${inferenceSize.height} · total ${Math.round(timings.totalMs)} ms` +
    (main ? ` · mostly ${main.name} (${formatPercent(main.fraction)})` : '');
}

/** Segments the current file (one request) and classifies it; the views are then drawn locally. */
async function run() {
  if (!state.file) return;
  state.controller?.abort();
  const controller = new AbortController();
  state.controller = controller;
  const { signal } = controller;
  const chosen = options();

  renderProblems($('error'), []);
  $('results').hidden = false;
  clearMask();
  state.stats = null;
  state.classMap = null;
  $('panels').hidden = true;
  $('legend').tBodies[0].replaceChildren();
  $('top5').replaceChildren();
  setBusy(true, `Segmenting ${state.file.name}…`);

  const [stats, top] = await Promise.allSettled([
    segmentImage(state.file, chosen.model, signal),
    hasClassifier() ? classifyImage(state.file, { topk: TOP_K }, signal) : Promise.resolve(null),
  ]);
  if (signal.aborted) return;

  const problems = [stats, top].filter((result) => result.status === 'rejected').map((result) => result.reason);
  const unexpected = problems.find((problem) => !(problem instanceof ApiProblem));
  if (unexpected) throw unexpected;
  renderProblems($('error'), problems);

  if (stats.status === 'fulfilled') {
    state.stats = stats.value;
    state.classMap = classMapFromStats(stats.value);
    await $('input-image').decode().catch(() => undefined); // the overlay draws on it
    if (signal.aborted) return;
    await draw();
    renderLegend($('legend').tBodies[0], stats.value.classes);
    $('panels').hidden = false;
  }
  if (top.status === 'fulfilled' && top.value) renderTopK($('top5'), top.value);
  $('top5-note').hidden = hasClassifier();
  $('top5-note').textContent = hasClassifier() ? '' : 'No classifier is loaded on this server.';
  if (stats.status === 'rejected' && !$('input-image').getAttribute('src')) $('results').hidden = true;
  // On failure the alert says what went wrong; the status line stays empty rather than repeat it.
  setBusy(false, problems.length ? '' : statusLine(state.stats));
}

/** A video goes to a job (public/video.js); the image views are hidden meanwhile. */
async function chooseVideo(file) {
  state.controller?.abort();
  const controller = new AbortController();
  state.controller = controller;
  state.file = null;
  renderProblems($('error'), []);
  $('results').hidden = true;
  $('panels').hidden = true;
  $('file-name').textContent = file.name;
  setBusy(false, '');
  try {
    await runVideo(file, options().model, controller.signal);
  } catch (problem) {
    if (controller.signal.aborted) return;
    if (!(problem instanceof ApiProblem)) throw problem;
    renderProblems($('error'), [problem]);
  }
}

function choose(file) {
  if (!file) return;
  if (isVideo(file)) {
    chooseVideo(file);
    return;
  }
  hideVideo();
  state.file = file;
  showInput(file);
  run();
}

function bindEvents() {
  $('image-input').addEventListener('change', (event) => choose(event.target.files[0]));
  for (const radio of document.querySelectorAll('input[name="format"]')) {
    radio.addEventListener('change', () => {
      $('alpha-control').hidden = options().format !== 'overlay';
      draw();
    });
  }
  $('alpha-input').addEventListener('input', (event) => {
    $('alpha-output').textContent = `${Math.round(Number(event.target.value) * 100)} %`;
    draw();
  });
  $('model-select').addEventListener('change', () => run());

  // Drop anywhere on the page; the drop zone lights up while a file is dragged over the window.
  const zone = $('drop-zone');
  document.addEventListener('dragover', (event) => {
    event.preventDefault();
    zone.classList.add('dragging');
  });
  document.addEventListener('dragleave', (event) => {
    if (event.relatedTarget === null) zone.classList.remove('dragging');
  });
  document.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('dragging');
    choose(event.dataTransfer?.files[0]);
  });
  document.addEventListener('paste', (event) => choose(event.clipboardData?.files[0]));
}

bindEvents();
loadModels();
