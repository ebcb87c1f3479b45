// The base of every image: the smallest filesystem Node runs in (as distroless is, but from the
// repo's own pinned Node). The node binary, the shared libraries it links (what `ldd` lists: glibc,
// libstdc++, libgcc_s, and the dynamic loader), and the few files of /etc a process expects: the
// nonroot user the pods run as, and how names resolve. No shell, no package manager, no npm.
//
// No CA bundle: Node verifies TLS with the Mozilla roots compiled into it, not the system's.
// Time zones come from the ICU data compiled into it too (Intl), not /usr/share/zoneinfo.
//
// The Dockerfiles run it in their build stage (`node images/rootfs.ts rootfs`, with the base
// image's node, the version package.json pins) and copy the result into a `FROM scratch` stage;
// `npm run bench:startup` and the images test (charts/test) build the same tree from the Dockerfile
// on this machine, with the repo's pinned node, to measure it and run it.
//
// `node images/rootfs.ts <dir> [node-binary]` (node-binary: the running node by default).
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Where node goes in the image (as in the official node images), on the image's PATH. */
export const NODE_PATH = '/usr/local/bin/node';
/** The uid and gid the pods run as (operator/src/desired/workloads.ts, the operator chart). */
export const RUN_AS = 10001;

/** The absolute paths of what `ldd` says a binary loads: each library and the dynamic loader. */
export function linkedLibraries(lddOutput: string): string[] {
  const paths = new Set<string>();
  for (const line of lddOutput.split('\n')) {
    // `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)`, or the loader's `/lib64/ld-linux-x86-64.so.2 (0x...)`.
    const match = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (match?.[1]) paths.add(match[1]);
  }
  return [...paths];
}

/** /etc's few files: the run-as user by name (for tools that look it up) and names from /etc/hosts, then DNS. */
export const ETC_FILES: Record<string, string> = {
  'etc/passwd': `root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:${RUN_AS}:${RUN_AS}:nonroot:/home/nonroot:/sbin/nologin\n`,
  'etc/group': `root:x:0:\nnonroot:x:${RUN_AS}:\n`,
  'etc/nsswitch.conf': 'hosts: files dns\n',
};

/** Writes the base filesystem into `dir`; resolves with the files it wrote (relative to `dir`). */
export function buildRootfs(dir: string, node = process.execPath): string[] {
  const written: string[] = [];
  const put = (path: string, from: string, mode: number) => {
    const target = join(dir, path);
    mkdirSync(dirname(target), { recursive: true });
    // The file itself, under the name the loader looks for (the host's may be a symbolic link).
    copyFileSync(realpathSync(from), target);
    chmodSync(target, mode);
    written.push(path.replace(/^\//, ''));
  };
  put(NODE_PATH, node, 0o755);
  for (const lib of linkedLibraries(execFileSync('ldd', [node], { encoding: 'utf8' }))) put(lib, lib, 0o755);
  for (const [path, content] of Object.entries(ETC_FILES)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content, { mode: 0o644 });
    written.push(path);
  }
  // Mount points the runtime fills (an emptyDir on /tmp: the root filesystem is read-only), and the user's home.
  for (const path of ['tmp', 'proc', 'dev', 'sys', 'home/nonroot']) mkdirSync(join(dir, path), { recursive: true });
  chmodSync(join(dir, 'tmp'), 0o1777);
  return written;
}

if (import.meta.main) {
  const [dir, node] = process.argv.slice(2);
  if (!dir) {
    process.stderr.write('usage: node images/rootfs.ts <dir> [node-binary]\n');
    process.exit(2);
  }
  for (const file of buildRootfs(dir, node)) process.stdout.write(`${file}\n`);
}
