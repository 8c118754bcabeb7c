import { promises as fs } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LogArchive } from '../ports';
import { tailLines, writeFileAtomic } from '../local/state-files';

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;

/** Archived logs as files: `<dir>/<deploymentId>/<pod>.log`. The default on one machine. */
export class LocalFolderLogArchive extends LogArchive {
  private readonly dir: string;

  constructor(dir: string) {
    super();
    this.dir = resolve(dir);
  }

  async store(deploymentId: string, podName: string, lines: readonly string[]): Promise<string> {
    const file = this.fileOf(deploymentId, podName);
    await fs.mkdir(join(this.dir, deploymentId), { recursive: true });
    await writeFileAtomic(file, lines.length > 0 ? `${lines.join('\n')}\n` : '');
    return pathToFileURL(file).href;
  }

  async read(deploymentId: string, podName: string, tail: number): Promise<string[] | null> {
    const file = this.fileOf(deploymentId, podName);
    const exists = await fs.access(file).then(
      () => true,
      () => false,
    );
    return exists ? tailLines(file, tail) : null;
  }

  private fileOf(deploymentId: string, podName: string): string {
    // Names come from the deployment id and the plan; anything else must not walk out of the folder.
    if (!SAFE_NAME.test(deploymentId) || !SAFE_NAME.test(podName)) throw new TypeError(`not an archivable name: ${deploymentId}/${podName}`);
    return join(this.dir, deploymentId, `${podName}.log`);
  }
}
