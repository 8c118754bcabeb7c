export { freePort, portAcceptsConnections } from './ports';
export { findNatsServerBin, startNatsServer } from './nats-server';
export type { NatsServerHandle, StartNatsServerOptions } from './nats-server';
export { uniqueName } from './unique-name';
export { waitFor } from './wait-for';
export type { WaitForOptions } from './wait-for';
export { lifecycle } from './lifecycles';
export type { LifecycleOptions, Outcome } from './lifecycles';
export { asWritten, illegalSequence, lateInstanceReleased, leakedInstance } from './audit-streams';
