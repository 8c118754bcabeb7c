export * from './ports';
export * from './local';
export * from './ec2';
export * from './faults';
export * from './kubernetes';
export * from './memory/memory-cloud';
export * from './simulated';
export * from './archive/local-folder-log-archive';
