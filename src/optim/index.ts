export {
  Optimizer,
  type ParamGroup,
  type ParamGroupInput,
  type ParamState,
  type OptimizerStateDict,
  type StateSpec,
  type GroupValidator,
} from './optimizer.js';
export { SGD, type SGDOptions, type SGDGroup } from './sgd.js';
export { Adam, AdamW, type AdamOptions, type AdamGroup } from './adam.js';
export { RMSprop, type RMSpropOptions, type RMSpropGroup } from './rmsprop.js';
export { clipGradNorm, clipGradValue, type ClipGradNormOptions } from './clip.js';
export {
  LRScheduler,
  StepLR,
  MultiStepLR,
  ExponentialLR,
  CosineAnnealingLR,
  LinearLR,
  ReduceLROnPlateau,
  OneCycleLR,
  type SchedulableOptimizer,
  type ReduceLROnPlateauOptions,
  type OneCycleLROptions,
} from './lr_scheduler.js';
