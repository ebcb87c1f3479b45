import { cpSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { repoRoot } from '@reservations/testkit';
import { type CommandResult, exec } from './charts.ts';

/**
 * A Dockerfile's instructions, one per logical line (continuations joined, comments dropped).
 * Enough for this repository's Dockerfiles: FROM, WORKDIR, COPY [--from], RUN, ENV, USER,
 * EXPOSE, ENTRYPOINT (exec form).
 */
export interface Instruction {
  op: string;
  args: string;
}

export function parseDockerfile(path: string): Instruction[] {
  return readFileSync(path, 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [op = '', ...rest] = l.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(' ') };
    });
}

/** The instructions of the last stage: what the image is. */
export function finalStage(instructions: readonly Instruction[]): Instruction[] {
  return instructions.slice(instructions.map((i) => i.op).lastIndexOf('FROM'));
}

export interface ImageTree {
  /** The image's filesystem root: what the Dockerfile put there (a `FROM scratch` image's whole filesystem). */
  root: string;
  workdir: string;
  env: Record<string, string>;
  entrypoint: string[];
  /** USER, as `uid:gid`. */
  user: string;
  /** Runs the entry point in the image's working directory with the repo's pinned Node, with the image's ENV plus `env`. */
  run(env?: Record<string, string>): Promise<CommandResult>;
  /**
   * The command that runs the entry point inside the image's own filesystem, as its pod does (root
   * only: namespaces and a chroot): that tree as a read-only root, a fresh /tmp and /proc, the
   * working directory and user the Dockerfile names, and its own node.
   */
  contained(): string[];
}

/**
 * Builds an image's file tree without a container engine, by doing what each instruction says
 * on the host: COPY from the repository (the build context) or from an earlier stage, RUN in
 * the stage's working directory with the repo's pinned Node first on PATH (the base image's
 * Node). The point is the file tree: that production dependencies alone are enough for the
 * entry point to load.
 */
export async function buildImageTree(dockerfile: string, dir: string): Promise<ImageTree> {
  const node = join(repoRoot, 'node_modules', 'node', 'bin');
  const stages = new Map<string, string>();
  let root = '';
  let workdir = '/';
  let env: Record<string, string> = {};
  let entrypoint: string[] = [];
  let user = '0:0';
  const inRoot = (path: string) => join(root, path.startsWith('/') ? path : join(workdir, path));
  for (const { op, args } of parseDockerfile(join(repoRoot, dockerfile))) {
    if (op === 'FROM') {
      const [, as] = args.split(/\s+AS\s+/i);
      root = join(dir, `stage-${stages.size}`);
      mkdirSync(root, { recursive: true });
      stages.set(as ?? String(stages.size), root);
      workdir = '/';
      env = {};
    } else if (op === 'WORKDIR') {
      workdir = args.startsWith('/') ? args : join(workdir, args);
      mkdirSync(inRoot(workdir), { recursive: true });
    } else if (op === 'ENV') {
      const [key = '', ...value] = args.split('=');
      env[key] = value.join('=');
    } else if (op === 'COPY') {
      const parts = args.split(/\s+/);
      const from = parts[0]?.startsWith('--from=') ? stages.get(parts.shift()?.slice('--from='.length) ?? '') : repoRoot;
      if (!from) throw new Error(`${dockerfile}: COPY from an unknown stage: ${args}`);
      const dest = parts.pop() as string;
      for (const src of parts) {
        const source = join(from, src);
        // As COPY does: a directory's contents go to dest; a file goes into dest when it ends in /.
        const target = !statSync(source).isDirectory() && dest.endsWith('/') ? join(inRoot(dest), basename(src)) : inRoot(dest);
        mkdirSync(dirname(target), { recursive: true });
        cpSync(source, target, { recursive: true, verbatimSymlinks: true }); // npm's workspace links stay links
      }
    } else if (op === 'RUN') {
      // A cache mount is the host's own cache here (npm's: ~/.npm).
      const command = args.replace(/^(--mount=\S+\s+)+/, '');
      const r = await exec('sh', ['-c', `cd ${inRoot(workdir)} && ${command}`], {
        // The lockfile pins the versions; the host's npm cache saves asking the registry again.
        env: { ...process.env, ...env, PATH: `${node}:${process.env.PATH}`, npm_config_prefer_offline: 'true' },
      });
      if (r.code !== 0) throw new Error(`${dockerfile}: RUN ${command} failed:\n${r.stderr}`);
    } else if (op === 'ENTRYPOINT') {
      entrypoint = JSON.parse(args) as string[];
    } else if (op === 'USER') {
      user = args;
    }
  }
  const image = { root, workdir, env, entrypoint, user };
  return {
    ...image,
    run: (extra = {}) => {
      const [command = '', ...rest] = image.entrypoint;
      return exec(
        '/bin/sh',
        ['-c', `cd ${inRoot(workdir)} && exec "$0" "$@"`, command === 'node' ? join(node, 'node') : command, ...rest],
        {
          env: { PATH: '/usr/bin:/bin', ...image.env, ...extra },
        },
      );
    },
    contained: () => containedCommand(image),
  };
}

/**
 * unshare(1): a mount and PID namespace of its own (killed with its parent), where the tree is
 * bound read-only over itself with a tmpfs on /tmp and a /proc of the namespace, then the entry
 * point runs with that tree as its root, as the image's user. Its program is looked up on the
 * image's PATH inside the tree, as a container runtime does.
 */
function containedCommand(image: Pick<ImageTree, 'root' | 'workdir' | 'env' | 'entrypoint' | 'user'>): string[] {
  const [program = '', ...args] = image.entrypoint;
  const found = program.includes('/')
    ? program
    : (image.env.PATH ?? '').split(':').find((dir) => dir && existsSync(join(image.root, dir, program)));
  if (found === undefined) throw new Error(`${program} is on no directory of the image's PATH (${image.env.PATH})`);
  const executable = program.includes('/') ? program : join(found, program);
  const [uid = '0', gid = uid] = image.user.split(':');
  const root = image.root;
  const setup = [
    `mount --bind ${root} ${root}`,
    `mount -o remount,bind,ro ${root}`,
    `mount -t tmpfs -o mode=1777 tmpfs ${root}/tmp`,
    `mount -t proc proc ${root}/proc`,
    `exec unshare --root=${root} --wd=${image.workdir} --setuid ${uid} --setgid ${gid} "$@"`,
  ].join(' && ');
  return [
    'unshare',
    '--mount',
    '--pid',
    '--fork',
    '--kill-child',
    '--propagation',
    'private',
    'sh',
    '-c',
    setup,
    'sh',
    executable,
    ...args,
  ];
}
