import { InMemoryLogArchive, LogArchive, NodeProvider, PodRuntime } from '@simdeploy/cloud';

export interface Providers {
  nodes: NodeProvider;
  pods: PodRuntime;
}

/**
 * The providers a deployment can run on, by name (`local`, `aws`). A deployment records
 * its provider when it is requested, so every later step uses the same one.
 */
export class ProviderRegistry {
  private readonly byName: ReadonlyMap<string, Providers>;

  constructor(
    providers: Record<string, Providers>,
    readonly defaultProvider: string,
    /** Where pods' logs go before their workload is deleted (whatever the provider). */
    readonly archive: LogArchive = new InMemoryLogArchive(),
  ) {
    this.byName = new Map(Object.entries(providers));
    if (!this.byName.has(defaultProvider)) throw new Error(`default provider "${defaultProvider}" is not configured`);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  get(name: string): Providers {
    const providers = this.byName.get(name);
    if (!providers) throw new Error(`provider "${name}" is not configured in this service`);
    return providers;
  }
}
