export * from './trace-context';
export * from './context';
export * from './tracing';
export * from './metrics';
