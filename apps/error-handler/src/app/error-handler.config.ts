// Kept with the other services' settings in libs/config, so the packaging checks can read them.
export { ErrorHandlerConfig } from '@simdeploy/config';
