export * from './records.js';
export * from './errors.js';
