import fp from 'fastify-plugin';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { probeImage, type ImageProbe } from '../../segmentation/decode.js';
import { isPlainWhole } from '../../segmentation/inference-modes/index.js';
import { inferenceSizeOf, type ServedModel } from '../../server/model-registry.js';
import { defaultOutputs, findModel, MODEL_PARAMS, MODEL_VERSION, modelNotReadyReason, modelOutputs } from '../../server/oip/models.js';
import { checkParameters } from '../../server/oip/parameters.js';
import { HEADER_LENGTH_HEADER, parseInferRequest, type InferInput, type InferRequest } from '../../server/oip/request.js';
import { CLASSIFICATION_OUTPUTS, encodeResponse, SEGMENTATION_OUTPUTS, type OipOutput, type ResponseHead } from '../../server/oip/response.js';
import { badRequest } from '../../server/oip/tensors.js';
import { HttpProblem } from '../../server/problems.js';
import { planClassify, planSegment } from '../../server/request-plan.js';
import { admissionOf, modelHeaders, recordInference } from '../image-route.js';
import { inferenceModeOf, segmentQuerystring, type SegmentQuery } from '../segment.js';
import { oipErrors } from './error-form.js';

/** The request parameters of each task: the REST query parameters that mean the same here (one schema for both). */
const { size, mode, crop, stride, scales, flip } = segmentQuerystring.properties;
const TASK_PARAMETERS = { segmentation: { size, mode, crop, stride, scales, flip }, classification: {} };

interface Params {
  name: string;
  version?: string;
}

/** The image's size from its header (encoded bytes) or from the tensor's shape (pixels): nothing is decoded. */
async function probeInput(input: InferInput, maxPixels: number): Promise<ImageProbe> {
  if (input.kind === 'pixels') return { format: 'raw', width: input.width, height: input.height };
  return probeImage(input.bytes, { maxPixels });
}

/** Job fields of the input: RGB pixels with their size, or encoded bytes with the header already read. */
function jobInput(input: InferInput, probe: ImageProbe) {
  return input.kind === 'pixels' ? { bytes: input.bytes, pixels: { width: input.width, height: input.height } } : { bytes: input.bytes, probe };
}

/** The outputs to answer, in order, each with its form (per-output binary_data over the request's binary_data_output). */
function answeredOutputs(served: ServedModel, request: InferRequest): { name: string; binary: boolean }[] {
  const asked = request.outputs ?? defaultOutputs(served).map((name) => ({ name, binary: undefined }));
  return asked.map(({ name, binary }) => ({ name, binary: binary ?? request.binaryOutput }));
}

function send(reply: FastifyReply, encoded: { body: Uint8Array; contentType: string; headerLength?: number }): FastifyReply {
  if (encoded.headerLength !== undefined) reply.header(HEADER_LENGTH_HEADER, String(encoded.headerLength));
  return reply.type(encoded.contentType).send(Buffer.from(encoded.body.buffer, encoded.body.byteOffset, encoded.body.byteLength));
}

/**
 * POST /v2/models/{name}[/versions/{v}]/infer: the Open Inference Protocol's inference, JSON or with Triton's binary
 * tensor data extension in both directions. Registered inside the image routes' admission scope: the same body
 * limit and timeouts, in-flight cap, memory budget and deadlines as /v1/segment. The image's size is known
 * (header or shape) and its memory admitted before anything is decoded; decoding, inference and building the
 * response tensors (JSON text included) run in the inference worker.
 */
const oipInferPlugin: FastifyPluginAsync = async (app) => {
  const { config, inference } = app;
  await app.register(oipErrors);
  // The body is a JSON header, possibly followed by binary tensor data: read as bytes whatever its type says.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: config.bodyLimit }, (_request, body, done) => done(null, body));

  async function segment(request: FastifyRequest, reply: FastifyReply, served: ServedModel, parsed: InferRequest, head: ResponseHead) {
    const query = checkParameters<SegmentQuery>(parsed.parameters, 'segmentation', TASK_PARAMETERS);
    const modeOptions = inferenceModeOf(query, config.maxForwardPasses, served.entry?.modeDefaults, 'parameters');
    const outputs = answeredOutputs(served, parsed);
    if (outputs.some((output) => output.name === SEGMENTATION_OUTPUTS.logits) && !isPlainWhole(modeOptions)) {
      const fromModel = query.mode === undefined && query.scales === undefined && query.flip === undefined;
      throw badRequest(
        fromModel
          ? `the logits output comes from one whole forward pass, and model "${served.model.id}" runs mode=${modeOptions.mode}` +
              `${modeOptions.scales.length > 1 ? ', several scales' : ''}${modeOptions.flip ? ', flip' : ''} by default: ` +
              'ask for it with parameters {"mode": "whole", "scales": "1", "flip": false}'
          : 'the logits output comes from one whole forward pass: leave out mode=slide, scales and flip when asking for it',
      );
    }
    const inferenceSize = query.size ?? inferenceSizeOf(served, config.inferenceSize);
    const probe = await probeInput(parsed.input, config.maxPixels);
    const output: OipOutput = { format: 'oip', head, outputs };
    const plan = planSegment(probe, inferenceSize, output, served, config, modeOptions);
    const answer = await inference.segment(
      { modelId: served.model.id, ...jobInput(parsed.input, probe), size: inferenceSize, maxPixels: config.maxPixels, output, mode: modeOptions },
      admissionOf(request, reply, served, plan),
    );
    recordInference(request, served, answer);
    if (reply.sent) return reply;
    if (!answer.body) throw new TypeError('the runner answered an inference request without a body');
    return send(reply, { body: answer.body, contentType: answer.contentType, headerLength: answer.inferenceHeaderLength });
  }

  async function classify(request: FastifyRequest, reply: FastifyReply, served: ServedModel, parsed: InferRequest, head: ResponseHead) {
    checkParameters(parsed.parameters, 'classification', TASK_PARAMETERS);
    const outputs = answeredOutputs(served, parsed);
    const probe = await probeInput(parsed.input, config.maxPixels);
    const plan = planClassify(probe, served, config);
    const { numClasses } = served.model;
    const answer = await inference.classify(
      { modelId: served.model.id, ...jobInput(parsed.input, probe), topk: numClasses, maxPixels: config.maxPixels },
      admissionOf(request, reply, served, plan),
    );
    recordInference(request, served, answer);
    if (reply.sent) return reply;
    // Every class came back as the top-k list: back to class order. 1000 floats are cheap on this thread.
    const probabilities = new Float32Array(numClasses);
    for (const entry of answer.top) probabilities[entry.index] = entry.probability;
    const tensors = outputs.map(({ binary }) => ({ name: CLASSIFICATION_OUTPUTS.probabilities, datatype: 'FP32' as const, shape: [numClasses], data: probabilities, binary }));
    return send(reply, encodeResponse(head, tensors));
  }

  const handler = async (request: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
    const served = findModel(app, request.params.name, request.params.version, reply);
    request.logFacts.model = served.model.id;
    const notReady = modelNotReadyReason(app, served);
    if (notReady !== null) throw new HttpProblem('not-ready', `model "${served.model.id}" is not ready: ${notReady}`, 1);
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const outputNames = modelOutputs(served).map((output) => output.name);
    const parsed = parseInferRequest(body, request.headers[HEADER_LENGTH_HEADER], outputNames, config.maxPixels);
    const head: ResponseHead = {
      ...(parsed.id === undefined ? {} : { id: parsed.id }),
      model_name: served.model.id,
      model_version: MODEL_VERSION,
      parameters: { trained: served.model.weights.trained },
    };
    reply.headers(modelHeaders(served));
    if (served.model.task === 'segmentation') return segment(request, reply, served, parsed, head);
    return classify(request, reply, served, parsed, head);
  };

  const schema = {
    params: MODEL_PARAMS,
    tags: ['inference'],
    summary: 'Open Inference Protocol (KServe v2): inference, JSON or with the binary tensor data extension',
    description:
      'One input: "image" (BYTES [1], the encoded image; base64 in JSON) or "pixels" (UINT8 [H, W, 3], RGB). ' +
      'Outputs: class_ids (label ids at the image size) and, when named, logits [C, h, w]; classifiers: probabilities [C].',
  };
  app.post<{ Params: Params }>('/v2/models/:name/infer', { schema }, handler);
  app.post<{ Params: Params }>('/v2/models/:name/versions/:version/infer', { schema: { ...schema, hide: true } }, handler);
};

export const oipInferRoutes = fp(oipInferPlugin, { name: 'cityseg-oip-infer', dependencies: ['cityseg-config', 'cityseg-inference', 'cityseg-admission'], encapsulate: true });
