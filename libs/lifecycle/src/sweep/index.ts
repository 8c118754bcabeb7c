export * from './orphan-sweeper';
