import { cachedSource, deploymentsGauge, metricsRegistry, renderMetrics } from '../src';

describe('metrics read from sources at scrape time', () => {
  it('shows what each source reports, and nothing once it is removed', async () => {
    const remove = deploymentsGauge.add(() => [
      { labels: { status: 'Running', error_status: 'none' }, value: 3 },
      { labels: { status: 'Terminated', error_status: 'AdminReview' }, value: 1 },
    ]);
    const { body } = await renderMetrics();
    expect(body).toContain('simdeploy_deployments{status="Running",error_status="none"} 3');
    expect(body).toContain('simdeploy_deployments{status="Terminated",error_status="AdminReview"} 1');
    remove();
    expect((await renderMetrics()).body).not.toContain('simdeploy_deployments{');
  });

  it('a source that hangs leaves its series out of the scrape instead of stalling it', async () => {
    const removeHung = deploymentsGauge.add(() => new Promise(() => undefined));
    const removeFine = deploymentsGauge.add(() => [{ labels: { status: 'Pending', error_status: 'none' }, value: 2 }]);
    const started = Date.now();
    const body = await metricsRegistry.getSingleMetricAsString('simdeploy_deployments');
    expect(Date.now() - started).toBeLessThan(2_900);
    expect(body).toContain('simdeploy_deployments{status="Pending",error_status="none"} 2');
    removeHung();
    removeFine();
  });

  it('a source that fails leaves its series out', async () => {
    const remove = deploymentsGauge.add(() => Promise.reject(new Error('database down')));
    await expect(metricsRegistry.getSingleMetricAsString('simdeploy_deployments')).resolves.not.toContain('simdeploy_deployments{');
    remove();
  });
});

describe('cachedSource', () => {
  afterEach(() => jest.useRealTimers());

  it('asks at most once per period however often it is scraped, and again once the period is over', async () => {
    jest.useFakeTimers({ now: 0 });
    let calls = 0;
    const read = cachedSource(async () => ++calls, 5_000);
    expect(await Promise.all([read(), read(), read()])).toEqual([1, 1, 1]);
    jest.setSystemTime(4_999);
    expect(await read()).toBe(1);
    jest.setSystemTime(5_000);
    expect(await read()).toBe(2);
  });

  it('does not keep a failure: the next scrape asks again', async () => {
    let calls = 0;
    const read = cachedSource(async () => {
      calls += 1;
      if (calls === 1) throw new Error('NATS away');
      return calls;
    }, 60_000);
    await expect(read()).rejects.toThrow('NATS away');
    expect(await read()).toBe(2);
  });
});
