// The JetStream command bus and its NestJS transport strategy go here.
export {};
