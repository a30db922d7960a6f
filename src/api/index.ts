export * from './destination.js';
export * from './duration.js';
export * from './event.js';
