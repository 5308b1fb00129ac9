import { basename, extname } from 'node:path';
import { MAX_CLASSES } from '../class-map.js';
import { LabelSetError } from '../errors.js';
import type { LabelClass, LabelSet, Rgb } from './types.js';

/**
 * A custom label file: `{ "name"?: string, "classes": [{ "name": string, "color": [r, g, b], "id"?: number }] }`.
 * Class i is model output channel i; `id` (default i) is what label-id PNGs hold, so it must fit in 8 bits.
 */
const FILE_FIELDS = ['name', 'classes'] as const;
const CLASS_FIELDS = ['name', 'color', 'id'] as const;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isByte(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 255;
}

function checkFields(source: string, where: string, value: Record<string, unknown>, allowed: readonly string[]): void {
  const unknown = Object.keys(value).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    throw new LabelSetError(source, `${where} has unknown field(s) ${unknown.map((k) => `"${k}"`).join(', ')} (allowed: ${allowed.join(', ')})`);
  }
}

function parseClass(source: string, raw: unknown, index: number): LabelClass {
  const where = `classes[${index}]`;
  if (!isObject(raw)) throw new LabelSetError(source, `${where} must be an object`);
  checkFields(source, where, raw, CLASS_FIELDS);
  const { name, color, id } = raw;
  if (typeof name !== 'string' || name.trim() === '') {
    throw new LabelSetError(source, `${where}.name must be a non-empty string`);
  }
  if (!Array.isArray(color) || color.length !== 3 || !color.every(isByte)) {
    throw new LabelSetError(source, `${where}.color must be [r, g, b] with integers 0..255, got ${JSON.stringify(color)}`);
  }
  if (id !== undefined && !isByte(id)) {
    throw new LabelSetError(source, `${where}.id must be an integer 0..255 (label PNGs are 8-bit), got ${JSON.stringify(id)}`);
  }
  return { index, id: id ?? index, name, color: [...color] as Rgb };
}

/** Validate parsed JSON as a label file; `source` (file path) names it in errors; its base name is the default name. */
export function parseLabelFile(json: unknown, source: string): LabelSet {
  if (!isObject(json)) throw new LabelSetError(source, 'must be a JSON object with a "classes" array');
  checkFields(source, 'the file', json, FILE_FIELDS);
  const { name, classes } = json;
  if (name !== undefined && (typeof name !== 'string' || name.trim() === '')) {
    throw new LabelSetError(source, '"name" must be a non-empty string when given');
  }
  if (!Array.isArray(classes) || classes.length === 0) {
    throw new LabelSetError(source, '"classes" must be a non-empty array');
  }
  if (classes.length > MAX_CLASSES) {
    throw new LabelSetError(source, `"classes" has ${classes.length} entries, at most ${MAX_CLASSES} fit an 8-bit class map`);
  }
  return { name: name ?? basename(source, extname(source)), classes: classes.map((c, i) => parseClass(source, c, i)) };
}

/** Parse the text of a label file (JSON). */
export function parseLabelFileText(text: string, source: string): LabelSet {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new LabelSetError(source, `is not valid JSON (${(err as Error).message})`, { cause: err });
  }
  return parseLabelFile(json, source);
}
