// The /proc I/O module: pure parsers, a pure rate tracker, the shares parser, the msize hint, views, and a reader.

export * from './parse.js';
export * from './shares.js';
export * from './rate.js';
export * from './hint.js';
export * from './view.js';
export * from './read.js';
