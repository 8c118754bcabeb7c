import { EventPattern } from '@nestjs/microservices';
import type { CommandKind } from './contracts';

/**
 * `@EventPattern(kind)` for a command kind. Nest 12 types a bare
 * `@EventPattern('launch')` as a typed-event decorator whose extra parameters
 * are `unknown`, so a handler taking `@Ctx() ctx: JetStreamContext` would not compile.
 */
export const OnCommand = (kind: CommandKind): MethodDecorator => EventPattern<string>(kind);
