export * from './contracts';
export * from './topology';
export * from './command-bus';
export * from './ack-policy';
export * from './jetstream-context';
export * from './on-command.decorator';
export * from './jetstream-command.server';
export * from './messaging.module';
