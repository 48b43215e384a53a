/** The onnx/ module's public surface, for the runner service to compose. */
export { loadModel, modelFromProto, readWeight, readTensorBytes, hasExternalData, type OnnxModel, type Weight } from './read.js';
export { saveModel, initializerBytes, type SaveOptions, type SavedModel } from './write.js';
export { findPrunableLinears, findBlockOutputs, type LinearStructure, type BlockOutput } from './structure.js';
export { exposeTensors, weightsToInputs } from './surgery.js';
export { extractSubgraph } from './subgraph.js';
export { openSession, type OpenSession } from './session.js';
export { writePrunedModel, zeroMaskedStored } from './apply-mask.js';
export { FAMILIES, type FamilyLayout } from './families.js';
export { fp16ToFp32, fp32ToFp16 } from './fp16.js';
