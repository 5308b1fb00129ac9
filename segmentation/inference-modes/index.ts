/** Sliding-window and test-time-augmented inference: options, window placement, runs. */
export * from './options.js';
export { slideWindowGrid, slideWindows, type SlideWindow } from './windows.js';
export { segmentWithMode, scoresWithMode, type ModeSegmentation } from './run.js';
