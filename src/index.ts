export { SwimringError, type SwimringErrorCode } from './errors.js';
export * from './partition/index.js';
