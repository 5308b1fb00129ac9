// A dropped video: one job (POST /v1/jobs), its progress polled, then the overlay video played beside the class
// shares over time; the legend follows the frame on screen.
import { fetchJob, fetchJobResults, startVideoJob } from './api.js';
import { formatPercent, renderLegend } from './render.js';

const $ = (id) => document.getElementById(id);
const POLL_MS = 500;
/** Classes drawn in the chart: those reaching this share in some frame. */
const CHART_MIN_SHARE = 0.01;
const SVG = 'http://www.w3.org/2000/svg';

let videoUrl = null;

export function isVideo(file) {
  return file.type.startsWith('video/') || /\.(mp4|mov|m4v|mkv|webm|avi)$/i.test(file.name);
}

function progressLine(job) {
  const { done, total } = job.frames;
  if (job.status === 'queued') return 'Waiting for a free slot…';
  if (job.status === 'running') return `Segmenting: ${done} / ${total} frames · ${job.fps.toFixed(1)} frames/s · about ${Math.ceil(job.etaSeconds)} s left`;
  if (job.status === 'succeeded') return `${done} frames segmented at ${job.fps.toFixed(1)} frames/s (${job.video.width} × ${job.video.height})`;
  return `Failed: ${job.error ?? 'no reason given'}`;
}

function showProgress(job) {
  $('video-progress').max = Math.max(1, job.frames.total);
  $('video-progress').value = job.frames.done;
  $('video-status').textContent = progressLine(job);
}

/** One polyline per class: share (0..1, bottom to top) against time. */
function drawChart(svg, lines) {
  const width = 400;
  const height = 160;
  const end = Math.max(lines.at(-1)?.time ?? 0, 1e-6);
  const series = new Map();
  for (const line of lines) {
    for (const c of line.classes) {
      if (!series.has(c.index)) series.set(c.index, { color: c.color, name: c.name, max: 0 });
      series.get(c.index).max = Math.max(series.get(c.index).max, c.fraction);
    }
  }
  const paths = [...series.entries()]
    .filter(([, s]) => s.max >= CHART_MIN_SHARE)
    .map(([index, s]) => {
      const points = lines.map((line) => {
        const share = line.classes.find((c) => c.index === index)?.fraction ?? 0;
        return `${((line.time / end) * width).toFixed(1)},${((1 - share) * height).toFixed(1)}`;
      });
      const path = document.createElementNS(SVG, 'polyline');
      path.setAttribute('points', points.join(' '));
      path.setAttribute('fill', 'none');
      path.setAttribute('stroke', `rgb(${s.color.join(' ')})`);
      path.setAttribute('stroke-width', '2');
      const title = document.createElementNS(SVG, 'title');
      title.textContent = `${s.name}: up to ${formatPercent(s.max)}`;
      path.append(title);
      return path;
    });
  svg.replaceChildren(...paths);
}

/** The legend of the frame shown at `time` seconds. */
function legendAt(lines, time) {
  let current = lines[0];
  for (const line of lines) {
    if (line.time > time + 1e-6) break;
    current = line;
  }
  if (!current) return;
  renderLegend($('video-legend').tBodies[0], current.classes.map((c) => ({ ...c, pixels: c.fraction })));
}

/** Runs `file` as a video job; problems are thrown as ApiProblem for the page's alert. */
export async function runVideo(file, model, signal) {
  const section = $('video-results');
  section.hidden = false;
  section.setAttribute('aria-busy', 'true');
  $('video-views').hidden = true;
  $('video-name').textContent = `· ${file.name}`;
  $('video-progress').value = 0;
  $('video-status').textContent = `Uploading ${file.name}…`;
  try {
    let job = await startVideoJob(file, model, signal);
    showProgress(job);
    while (job.status === 'queued' || job.status === 'running') {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      if (signal.aborted) return;
      job = await fetchJob(job.id, signal);
      showProgress(job);
    }
    if (job.status !== 'succeeded') return;
    const { video, lines } = await fetchJobResults(job.id, signal);
    if (videoUrl) URL.revokeObjectURL(videoUrl);
    videoUrl = URL.createObjectURL(video);
    const player = $('result-video');
    player.src = videoUrl;
    $('video-download').href = videoUrl;
    $('video-download').download = `${file.name.replace(/\.[^.]+$/, '')}_overlay.mp4`;
    drawChart($('shares-chart'), lines);
    legendAt(lines, 0);
    player.ontimeupdate = () => legendAt(lines, player.currentTime);
    $('video-views').hidden = false;
  } finally {
    section.setAttribute('aria-busy', 'false');
  }
}

export function hideVideo() {
  $('video-results').hidden = true;
}
