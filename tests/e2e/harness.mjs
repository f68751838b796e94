// Starts the real agentgate-mock and agentgate binaries for an end-to-end
// test and stops them (by their PIDs) afterwards.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';

const AGENTGATE = process.env.AGENTGATE_BINARY;
const MOCK = process.env.AGENTGATE_MOCK_BINARY;
if (!AGENTGATE || !MOCK) throw new Error('set AGENTGATE_BINARY and AGENTGATE_MOCK_BINARY');

function waitForLine(child, prefix, ms = 20000) {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error(`no "${prefix}" line within ${ms} ms: ${buffer}`)), ms);
    const onData = (d) => {
      buffer += d.toString();
      for (const line of buffer.split('\n')) {
        if (line.startsWith(prefix)) {
          clearTimeout(timer);
          child.stdout.off('data', onData);
          child.stdout.resume();  // keep draining access logs
          resolve(line);
          return;
        }
      }
    };
    child.stdout.on('data', onData);
    child.on('exit', (code) => reject(new Error(`exited with ${code} before "${prefix}": ${buffer}`)));
  });
}

export function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export async function startStack(extraConfig = '') {
  const dir = mkdtempSync(join(tmpdir(), 'agentgate-e2e-'));
  const mock = spawn(MOCK, ['--port', '0', '--host', '127.0.0.1', '--api-key', 'upstream-key'],
                     { stdio: ['ignore', 'pipe', 'inherit'] });
  const mockLine = await waitForLine(mock, 'agentgate-mock listening on');
  const mockPort = Number(mockLine.split(':').pop());
  const port = await freePort();
  const config = `server:
  admin_key: e2e-admin
upstreams:
  - name: mock
    base_url: http://127.0.0.1:${mockPort}/v1
    api_key: upstream-key
    models: [gpt-4o, gpt-4o-mini, text-embedding-3-small]
${extraConfig.includes('rate_limit:') ? '' : 'rate_limit:\n  enabled: false\n'}${extraConfig}`;
  writeFileSync(join(dir, 'agentgate.yaml'), config);
  const env = { ...process.env };
  delete env.OPENAI_API_KEY;
  delete env.AGENTGATE_ADMIN_KEY;
  const gateway = spawn(AGENTGATE, ['serve', '--config', join(dir, 'agentgate.yaml'), '--port', String(port),
                                    '--host', '127.0.0.1', '--data-dir', join(dir, 'data')],
                        { stdio: ['ignore', 'pipe', 'inherit'], env });
  await waitForLine(gateway, 'agentgate listening on');
  const stop = async () => {
    for (const child of [gateway, mock]) {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return {
    port, mockPort, stop,
    baseURL: `http://127.0.0.1:${port}/v1`,
    async setFaults(faults) {
      const r = await fetch(`http://127.0.0.1:${mockPort}/_mock/faults`, {
        method: 'POST', body: JSON.stringify(faults), headers: { 'content-type': 'application/json' } });
      if (r.status !== 200) throw new Error(`faults: ${r.status} ${await r.text()}`);
    },
  };
}
