import { Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { GatewayConfig } from '@simdeploy/config';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The built dashboard's page, or null when it was not built (the API works without it). */
export class DashboardFiles {
  constructor(
    readonly dir: string,
    readonly indexHtml: string | null,
  ) {}

  static load(config: GatewayConfig): DashboardFiles {
    // From dist/apps/gateway/src/app/dashboard, the dashboard's build is dist/apps/dashboard.
    const dir = config.DASHBOARD_DIR ? resolve(config.DASHBOARD_DIR) : resolve(__dirname, '../../../../dashboard');
    const index = join(dir, 'index.html');
    if (!existsSync(index)) return new DashboardFiles(dir, null);
    let html = readFileSync(index, 'utf8');
    // Tells the page that sign-in tokens are offered on this machine, so it asks only then.
    if (config.DASHBOARD_LOCAL_TOKENS) html = html.replace('<head>', '<head>\n    <meta name="simdeploy-local-tokens" content="/local-tokens">');
    return new DashboardFiles(dir, html);
  }
}

/** The dashboard's hashed assets, cached for good by browsers; its page is served by DashboardController. */
export function serveDashboardAssets(app: NestFastifyApplication, files: DashboardFiles): void {
  if (files.indexHtml === null) {
    new Logger('dashboard').warn(`no dashboard build in ${files.dir} (npm run build makes it); the API is served without it`);
    return;
  }
  app.useStaticAssets({ root: join(files.dir, 'assets'), prefix: '/assets/', decorateReply: false, immutable: true, maxAge: '365d' });
}
