import { httpMetrics, parseTraceparent, startSpan, withContext, type Span } from '@simdeploy/telemetry';
import type { FastifyInstance, FastifyRequest } from 'fastify';

const spans = new WeakMap<FastifyRequest, Span>();

/** Requests that match no route share one label value, so a scan of random URLs cannot mint series. */
export const UNMATCHED_ROUTE = 'unmatched';
/** The dashboard's route for its client-side pages: any GET no API route takes. */
const CATCH_ALL_ROUTE = '/*';

/**
 * Every request starts a span, continuing the caller's W3C `traceparent` when it sends a
 * valid one; its context is the current work's trace for everything the request appends
 * and sends, and goes back in the answer's `traceparent`. Every answer is counted by route
 * pattern (never the raw URL), method and status, with its latency.
 */
export function instrumentHttp(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    const span = startSpan(`HTTP ${request.method}`, {
      parent: parseTraceparent(request.headers['traceparent'] as string | undefined),
      kind: 'server',
      attributes: { 'http.request.method': request.method },
    });
    spans.set(request, span);
    void reply.header('traceparent', span.traceparent);
    // Fastify calls the rest of the request's hooks and the handler from `done`: they run in this context.
    withContext({ trace: span.context }, done);
  });

  fastify.addHook('onResponse', (request, reply, done) => {
    // The dashboard's catch-all answering 404 matched nothing real either.
    const matched = request.routeOptions.url;
    const route = matched === undefined || (matched === CATCH_ALL_ROUTE && reply.statusCode === 404) ? UNMATCHED_ROUTE : matched;
    const labels = { route, method: request.method, status: String(reply.statusCode) };
    httpMetrics.requests.inc(labels);
    httpMetrics.duration.observe(labels, reply.elapsedTime / 1000);
    const span = spans.get(request);
    if (span) {
      span.setAttribute('http.route', route);
      span.setAttribute('http.response.status_code', reply.statusCode);
      span.end(reply.statusCode >= 500 ? new Error(`HTTP ${reply.statusCode}`) : undefined);
    }
    done();
  });
}
