import { Ajv, type ValidateFunction } from 'ajv';
import type { ModelTask } from '../../model/loaded-model.js';
import { badRequest, describeValue } from './tensors.js';

/**
 * The request `parameters` of an inference request are the REST API's query parameters of the same task, checked
 * against the REST route's own JSON schema (one definition serves both APIs), by Ajv as Fastify checks every route.
 * JSON values keep their JSON type (no coercion, unlike a query string): `"size": 512` or `"size": "native"`,
 * `"flip": true`, `"crop": "512x1024"`, `"scales": "0.75,1,1.25"`.
 */

/** Ajv as Fastify configures it for routes, less the query string's type coercion: a JSON body is typed already. */
const ajv = new Ajv({ allErrors: false, strict: false });
const validators = new WeakMap<Record<string, ParameterSchema>, ValidateFunction>();

/** The task's parameters as one object schema (unknown names refused), compiled once per schema table. */
function validatorOf(own: Record<string, ParameterSchema>): ValidateFunction {
  let validate = validators.get(own);
  if (!validate) {
    validate = ajv.compile({ type: 'object', properties: own, additionalProperties: false });
    validators.set(own, validate);
  }
  return validate;
}

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
  const validate = validatorOf(own);
  if (validate(parameters)) return parameters as T;
  const [error] = validate.errors ?? [];
  const additional = (error?.params as { additionalProperty?: string } | undefined)?.additionalProperty;
  if (error?.keyword === 'additionalProperties' && additional !== undefined) {
    const other = Object.entries(allowed).find(([otherTask, schemas]) => otherTask !== task && additional in schemas)?.[0];
    const names = Object.keys(own);
    const known = names.length > 0 ? `this ${task} model takes ${names.join(', ')}` : `this ${task} model takes none`;
    throw badRequest(
      other
        ? `parameter "${additional}" applies to ${other} models, not to this ${task} model (${known})`
        : `unknown parameter "${additional}" (${known}, and binary_data_output)`,
    );
  }
  // The parameter is the first segment of the failing path (an anyOf reports its branches' paths too).
  const name = (error?.instancePath ?? '').split('/')[1] ?? '';
  const schema = own[name];
  if (!schema) throw badRequest(`parameters ${error?.message ?? 'are not valid'}`);
  throw badRequest(`parameter "${name}" is ${describeValue(parameters[name])} but must be ${expected(schema)}${schema.description ? ` (${schema.description})` : ''}`);
}
