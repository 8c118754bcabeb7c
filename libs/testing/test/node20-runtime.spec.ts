import 'reflect-metadata';
import { request } from 'node:http';
import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';

// Several runtime dependencies declare an engine newer than Node 20 (or ship
// only ES modules). These tests load each one here, on the Node that CI uses.

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

@Controller('ping')
class PingController {
  @Get()
  ping(): { pong: true } {
    return { pong: true };
  }
}

@Module({ controllers: [PingController] })
class PingModule {}

describe('runtime dependencies on this Node', () => {
  it('runs on Node 20 or newer', () => {
    expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(20);
  });

  it('@nats-io/nuid generates ids', async () => {
    const { nuid } = await import('@nats-io/nuid');
    expect(nuid.next()).toMatch(/^[A-Za-z0-9]{22}$/);
  });

  it('@nestjs/platform-fastify serves a real HTTP request on a free port', async () => {
    const app = await NestFactory.create<NestFastifyApplication>(PingModule, new FastifyAdapter(), {
      logger: false,
    });
    try {
      await app.listen(0, '127.0.0.1');
      const response = await httpGet(`${await app.getUrl()}/ping`);

      expect(response.status).toBe(200);
      expect(JSON.parse(response.body)).toEqual({ pong: true });
    } finally {
      await app.close();
    }
  });

  it('@kubernetes/client-node 1.4 loads and builds an API client', async () => {
    const k8s = await import('@kubernetes/client-node');
    const config = new k8s.KubeConfig();
    config.loadFromOptions({
      clusters: [{ name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: true }],
      users: [{ name: 'u', token: 'not-a-secret' }],
      contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
      currentContext: 'ctx',
    });

    expect(config.makeApiClient(k8s.CoreV1Api)).toBeInstanceOf(k8s.CoreV1Api);
  });

  it('@aws-sdk/client-ec2 loads and builds a command', async () => {
    const { EC2Client, RunInstancesCommand } = await import('@aws-sdk/client-ec2');
    const client = new EC2Client({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
    const command = new RunInstancesCommand({ MinCount: 1, MaxCount: 1, ClientToken: 'token' });

    expect(command.input.ClientToken).toBe('token');
    client.destroy();
  });

  it('jose signs and verifies a JWT', async () => {
    const { SignJWT, jwtVerify } = await import('jose');
    const key = new TextEncoder().encode('a-test-key-of-at-least-32-bytes!!');
    const token = await new SignJWT({ sub: 'user-1' }).setProtectedHeader({ alg: 'HS256' }).sign(key);

    expect((await jwtVerify(token, key)).payload.sub).toBe('user-1');
  });

  it('@eventstore/db-client loads', async () => {
    const { EventStoreDBClient, jsonEvent } = await import('@eventstore/db-client');
    expect(typeof EventStoreDBClient.connectionString).toBe('function');
    expect(jsonEvent({ type: 'Probe', data: { ok: true } }).type).toBe('Probe');
  });

  it('nock 14 intercepts an HTTP request', async () => {
    const { default: nock } = await import('nock');
    const scope = nock('http://simdeploy.invalid').get('/probe').reply(200, 'intercepted');
    try {
      const response = await httpGet('http://simdeploy.invalid/probe');

      expect(response.body).toBe('intercepted');
      expect(scope.isDone()).toBe(true);
    } finally {
      nock.cleanAll();
      nock.restore();
    }
  });

  it('aws-sdk-client-mock stubs an EC2 call', async () => {
    const { EC2Client, DescribeInstancesCommand } = await import('@aws-sdk/client-ec2');
    const { mockClient } = await import('aws-sdk-client-mock');
    const ec2 = mockClient(EC2Client);
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    try {
      const client = new EC2Client({ region: 'eu-west-1' });

      expect(await client.send(new DescribeInstancesCommand({}))).toEqual({ Reservations: [] });
    } finally {
      ec2.restore();
    }
  });
});
