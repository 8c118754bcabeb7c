import { Controller, Get, Inject, NotFoundException, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Public } from '../auth/jwt-auth.guard';
import { DashboardFiles } from '../dashboard/dashboard-files';

/** First path segments that belong to the API: an unknown path under them is the API's 404, never the page. */
const API_PREFIXES = new Set(['simulations', 'admin', 'health', 'docs', 'docs-json', 'docs-yaml', 'metrics', 'assets', 'local-tokens']);

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  // The page names its hashed assets: it must be fetched again after every deploy.
  'cache-control': 'no-cache',
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** The dashboard at `/`, and its client-side routes (any other page a browser asks for). */
@ApiExcludeController()
@Public()
@Controller()
export class DashboardController {
  constructor(@Inject(DashboardFiles) private readonly files: DashboardFiles) {}

  @Get()
  index(@Res() reply: FastifyReply): void {
    this.page(reply, '/');
  }

  @Get('*')
  route(@Req() request: FastifyRequest, @Res() reply: FastifyReply): void {
    const path = request.url.split('?')[0];
    const first = path.split('/')[1] ?? '';
    const wantsPage = (request.headers.accept ?? '').includes('text/html');
    if (!wantsPage || API_PREFIXES.has(first)) throw new NotFoundException(`Cannot GET ${path}`);
    this.page(reply, path);
  }

  private page(reply: FastifyReply, path: string): void {
    if (this.files.indexHtml === null) throw new NotFoundException(`Cannot GET ${path} (the dashboard is not built: npm run build)`);
    void reply.headers(PAGE_HEADERS).send(this.files.indexHtml);
  }
}
