export * from './ports';
export * from './local';
