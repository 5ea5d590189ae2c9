export { save, saveSync, load, loadSync, loadFile, loadFileSync, serialize, deserialize } from './safetensors.js';
export type { StateDict, Saveable, SaveOptions, SafetensorsContents } from './safetensors.js';
export { saveModel, loadModel, loadModelFromBuffer, inferMlp } from './model-file.js';
export type { ModelInfo, LoadedModel } from './model-file.js';
