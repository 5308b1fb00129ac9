import type { ModelTask } from '../../model/loaded-model.js';
import { badRequest, describeValue } from './tensors.js';

/**
 * The request `parameters` of an inference request are the REST API's query parameters of the same task, checked
 * against the REST route's own JSON schema (one definition serves both APIs). JSON values keep their JSON type:
 * `"size": 512` or `"size": "native"`, `"flip": true`, `"crop": "512x1024"`, `"scales": "0.75,1,1.25"`.
 */

/** The subset of JSON Schema the query parameter schemas use. */
interface ParameterSchema {
  type?: string;
  enum?: readonly unknown[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  anyOf?: readonly ParameterSchema[];
  description?: string;
}

function matches(schema: ParameterSchema, value: unknown): boolean {
  if (schema.anyOf) return schema.anyOf.some((option) => matches(option, value));
  if (schema.enum && !schema.enum.includes(value)) return false;
  switch (schema.type) {
    case 'boolean':
      return typeof value === 'boolean';
    case 'integer':
    case 'number':
      return (
        typeof value === 'number' &&
        (schema.type === 'number' ? Number.isFinite(value) : Number.isSafeInteger(value)) &&
        (schema.minimum === undefined || value >= schema.minimum) &&
        (schema.maximum === undefined || value <= schema.maximum)
      );
    case 'string':
      return (
        typeof value === 'string' &&
        (schema.pattern === undefined || new RegExp(schema.pattern).test(value)) &&
        (schema.minLength === undefined || value.length >= schema.minLength) &&
        (schema.maxLength === undefined || value.length <= schema.maxLength)
      );
    default:
      return false;
  }
}

function expected(schema: ParameterSchema): string {
  if (schema.anyOf) return schema.anyOf.map(expected).join(' or ');
  if (schema.enum) return `one of ${schema.enum.map((value) => JSON.stringify(value)).join(', ')}`;
  const range = schema.minimum !== undefined && schema.maximum !== undefined ? ` ${schema.minimum}..${schema.maximum}` : '';
  const pattern = schema.pattern ? ` matching ${schema.pattern}` : '';
  return `${schema.type ?? 'a value'}${range}${pattern}`;
}

/**
 * Checks `parameters` against the task's allowed schemas (`allowed[task]`: name → schema); a parameter of the
 * other task, an unknown one or a wrong value is a 400 naming it. Returns the parameters, typed by the caller.
 */
export function checkParameters<T>(
  parameters: Record<string, unknown>,
  task: ModelTask,
  allowed: Record<ModelTask, Record<string, ParameterSchema>>,
): T {
  const own = allowed[task];
  for (const [name, value] of Object.entries(parameters)) {
    const schema = own[name];
    if (!schema) {
      const other = Object.entries(allowed).find(([otherTask, schemas]) => otherTask !== task && name in schemas)?.[0];
      const names = Object.keys(own);
      const known = names.length > 0 ? `this ${task} model takes ${names.join(', ')}` : `this ${task} model takes none`;
      throw badRequest(
        other
          ? `parameter "${name}" applies to ${other} models, not to this ${task} model (${known})`
          : `unknown parameter "${name}" (${known}, and binary_data_output)`,
      );
    }
    if (!matches(schema, value)) {
      throw badRequest(`parameter "${name}" is ${describeValue(value)} but must be ${expected(schema)}${schema.description ? ` (${schema.description})` : ''}`);
    }
  }
  return parameters as T;
}
