import { BaseRpcContext } from '@nestjs/microservices';
import type { JsMsg } from '@nats-io/jetstream';

/** What a handler gets with `@Ctx()`: the JetStream message behind the command. */
export class JetStreamContext extends BaseRpcContext<[JsMsg]> {
  constructor(message: JsMsg) {
    super([message]);
  }

  getMessage(): JsMsg {
    return this.args[0];
  }

  /** 1 on the first delivery; grows with every nak and every redelivery after ack_wait. */
  getDeliveryCount(): number {
    return this.args[0].info.deliveryCount;
  }

  getSubject(): string {
    return this.args[0].subject;
  }
}
