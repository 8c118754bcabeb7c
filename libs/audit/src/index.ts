export * from './canonical';
export * from './scan';
export * from './format';
export * from './verify';
export * from './export-chain';
export * from './export-store';
export * from './usage';
