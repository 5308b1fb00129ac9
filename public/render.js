// DOM builders: model facts, the class legend, the classifier's top-k and problems. No state, no fetching.

/** Builds an element with properties (`className`, `textContent`, ...) and children. */
export function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

/** Shares as people read them: one decimal, two below 1 % so small classes do not read as 0.0 %. */
export function formatPercent(fraction) {
  const percent = fraction * 100;
  return `${percent.toFixed(percent < 1 ? 2 : 1)} %`;
}

/** A bar on a full-width track, so a small share still reads against the whole. */
function track(bar) {
  return el('span', { className: 'bar-track', ariaHidden: 'true' }, bar);
}

function weightsBadge(model) {
  return model.weights.trained
    ? el('span', { className: 'badge badge-ok', textContent: 'trained', title: model.weights.source })
    : el('span', { className: 'badge badge-warn', textContent: 'untrained', title: model.weights.source });
}

function modelFact(term, model) {
  const description = el('dd', {}, el('span', { className: 'model-id', textContent: model.id }), ' ', weightsBadge(model));
  description.title = `${model.arch} · ${model.engine}/${model.backend} · ${model.parameterCount.toLocaleString('en')} parameters`;
  return el('div', {}, el('dt', { textContent: term }), description);
}

/** The header's facts: segmentation model(s), classifier, engine. */
export function renderModelInfo(list, models) {
  const segmenters = models.filter((model) => model.task === 'segmentation');
  const classifiers = models.filter((model) => model.task === 'classification');
  const facts = [
    ...segmenters.map((model) => modelFact('Segmentation', model)),
    ...classifiers.map((model) => modelFact('Classifier', model)),
  ];
  if (segmenters[0]) {
    const { engine, backend } = segmenters[0];
    facts.push(el('div', {}, el('dt', { textContent: 'Engine' }), el('dd', { textContent: `${engine} · ${backend}` })));
  }
  list.replaceChildren(...(facts.length ? facts : [el('div', {}, el('dt', { textContent: 'Model' }), el('dd', { textContent: 'none loaded yet' }))]));
}

/** Why a model is untrained, from /v1/models' `weights.origin` and `weights.detail`. */
function untrainedReason(weights) {
  if (weights.origin === 'none') return 'no trained weights were given';
  return weights.detail ?? null;
}

/** Sentence for the banner when a model runs its seeded random initialisation (and why), else null. */
export function untrainedWarning(models) {
  const untrained = models.filter((model) => !model.weights.trained);
  if (untrained.length === 0) return null;
  const names = untrained
    .map((model) => {
      const reason = untrainedReason(model.weights);
      return `${model.id} (${model.weights.source}${reason ? `; ${reason}` : ''})`;
    })
    .join(' and ');
  const envs = untrained.map((model) => (model.task === 'segmentation' ? 'CITYSEG_WEIGHTS' : 'CITYSEG_CLASSIFIER_WEIGHTS'));
  return `${names} ${untrained.length > 1 ? 'run' : 'runs'} random weights, so ${untrained.length > 1 ? 'their' : 'its'} ` +
    `predictions mean nothing. Give the server trained weights, a checkpoint or a fastseg: or torchvision: preset: ` +
    `${[...new Set(envs)].join(' / ')}, or the model's weights: entry in its models file (CITYSEG_MODELS); ` +
    'or let it fetch the default presets (cityseg weights fetch).';
}

/** One row per class present in the image, largest share first. */
export function renderLegend(tbody, classes) {
  const present = classes.filter((entry) => entry.pixels > 0).sort((a, b) => b.pixels - a.pixels);
  tbody.replaceChildren(
    ...present.map((entry) => {
      const [r, g, b] = entry.color;
      const swatch = el('span', { className: 'swatch' });
      swatch.style.backgroundColor = `rgb(${r} ${g} ${b})`;
      const bar = el('span', { className: 'share-bar' });
      bar.style.setProperty('--share', String(entry.fraction));
      bar.style.setProperty('--bar', `rgb(${r} ${g} ${b})`);
      const row = el(
        'tr',
        {},
        el('td', {}, swatch),
        el('td', { className: 'class-name', textContent: entry.name, title: `trainId ${entry.index} · id ${entry.id}` }),
        el('td', { className: 'num' }, el('span', { className: 'share-cell' }, track(bar), el('span', { className: 'share', textContent: formatPercent(entry.fraction) }))),
      );
      row.dataset.classIndex = String(entry.index);
      return row;
    }),
  );
}

/** The classifier's answer, most probable first, with a bar per probability. */
export function renderTopK(list, predictions) {
  list.replaceChildren(
    ...predictions.map((prediction) => {
      const bar = el('span', { className: 'prob-bar' });
      bar.style.setProperty('--share', String(prediction.probability));
      return el(
        'li',
        {},
        el('span', { className: 'label', textContent: prediction.label }),
        el('span', { className: 'prob', textContent: formatPercent(prediction.probability) }),
        track(bar),
      );
    }),
  );
}

/** Every distinct problem as "Title (HTTP n): detail". */
export function renderProblems(box, problems) {
  const distinct = [...new Map(problems.map((p) => [`${p.status} ${p.title} ${p.detail}`, p])).values()];
  box.replaceChildren(
    ...distinct.map((problem) =>
      el(
        'div',
        { className: 'problem-item' },
        el(
          'p',
          { className: 'problem-title' },
          el('strong', { textContent: problem.title }),
          problem.status ? el('span', { className: 'problem-status', textContent: ` HTTP ${problem.status}` }) : null,
        ),
        el('p', { className: 'problem-detail', textContent: problem.detail }),
        problem.retryAfterSeconds ? el('p', { className: 'muted', textContent: `Try again in ${problem.retryAfterSeconds} s.` }) : null,
      ),
    ),
  );
  box.hidden = distinct.length === 0;
}
