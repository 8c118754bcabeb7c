export * from './core.module';
export * from './worker.module';
export * from './providers.factory';
export * from './run-service';
export * from './command.controllers';
export * from './observability';
export * from './read-side.module';
