/**
 * The Dockerfile, without a Docker engine (CI has none): its structure, then a replay of its build
 * outside Docker. Every stage gets a folder standing for its filesystem; COPY copies from the
 * repository (what .dockerignore lets into the context) or from an earlier stage's folder, RUN runs the
 * same command with `sh -c` in the stage's WORKDIR, and then the runtime stage's CMD starts in its
 * folder, must answer /healthz, and the HEALTHCHECK command itself must pass. The base image is stood
 * in for by the node and npm first on PATH (same Node major, checked: .ci/run puts the image's first).
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { cp, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../src/config';
import { dockerignore, parseDockerfile, type CopyStep, type Stage } from './support/dockerfile';
import { eventually } from './support/eventually';
import { LiveKitDouble } from './support/livekit-double';
import { S3TestServer } from './support/s3-server';
import {
  DEPLOYMENT_LIVEKIT_KEYS,
  type ServiceProcess,
  deploymentEnv,
  freePort,
  spawnService,
  startOrExit,
} from './support/service-process';

const root = path.join(__dirname, '..');
const stages = parseDockerfile(readFileSync(path.join(root, 'Dockerfile'), 'utf8'));
const runtime = stages.at(-1)!;
const ignored = dockerignore(readFileSync(path.join(root, '.dockerignore'), 'utf8'));
const defaults = loadConfig({ NODE_ENV: 'test' });
/** The Node major the image runs (the FROM lines agree: checked below). */
const imageNodeMajor = Number(/^node:(\d+)/.exec(runtime.image)?.[1]);
/** What a deployment must set itself: the image cannot know its keys. */
const DEPLOYMENT_SETTINGS = ['LIVEKIT_API_KEY', 'LIVEKIT_API_SECRET', 'ADMIN_API_KEY', 'MEDIA_URL_SIGNING_KEY'];
const stageNamed = (name: string) => {
  const stage = stages.find((candidate) => candidate.name === name);
  if (!stage) throw new Error(`no stage ${name}`);
  return stage;
};
const copies = (stage: Stage) => stage.steps.filter((step): step is CopyStep => step.kind === 'copy');
const runs = (stage: Stage) => stage.steps.flatMap((step) => (step.kind === 'run' ? [step.command] : []));
/** The stage a runtime folder comes from: `COPY --from=<stage> <src> <dest>` where dest is `dest`. */
const sourceOf = (dest: string) => {
  const copy = copies(runtime).find((step) => path.posix.resolve(step.workdir, step.dest) === path.posix.resolve(runtime.workdir, dest));
  if (!copy?.from) throw new Error(`the runtime stage copies no ${dest} from another stage`);
  return stageNamed(copy.from);
};

describe('the Dockerfile', () => {
  it('builds in stages from one pinned official Node 24 (LTS) image', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage.image).toMatch(/^node:24\.\d+\.\d+-(bookworm|trixie)-slim$/);
    expect(new Set(stages.map((stage) => stage.image)).size).toBe(1);
    expect(new Set(stages.map((stage) => stage.name)).size).toBe(stages.length);
  });

  it('is type-checked against the Node it runs, which package.json admits, and Node 20 (end of life) is not promised', () => {
    const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
      engines: { node: string };
      devDependencies: Record<string, string>;
    };
    const minimum = Number(/^>=(\d+)$/.exec(manifest.engines.node)?.[1]);
    expect(minimum).toBeGreaterThanOrEqual(22);
    expect(minimum).toBeLessThanOrEqual(imageNodeMajor);
    expect(/^\^(\d+)\./.exec(manifest.devDependencies['@types/node'])?.[1]).toBe(String(imageNodeMajor));
  });

  it('compiles with every dependency and runs with production ones only', () => {
    const build = sourceOf('dist');
    expect(runs(build)).toContain('npm run build');
    expect(runs(build).some((command) => /^npm ci\b/.test(command) && !command.includes('--omit=dev'))).toBe(true);
    expect(runs(sourceOf('node_modules')).some((command) => /^npm ci\b.*--omit=dev/.test(command))).toBe(true);
    // Nothing is installed or compiled in the runtime stage itself.
    expect(runs(runtime)).toEqual([]);
  });

  it('copies from the context only what .dockerignore lets in, which keeps secrets and local builds out', () => {
    for (const step of stages.flatMap(copies).filter((copy) => copy.from === undefined)) {
      for (const source of step.sources) {
        expect({ source, exists: existsSync(path.join(root, source)), ignored: ignored(source) }).toEqual({
          source,
          exists: true,
          ignored: false,
        });
      }
    }
    for (const kept of ['.env', 'node_modules/x', 'dist/index.js', '.git/HEAD', 'test/health.test.ts', 'docs/screenshots/room.png']) {
      expect({ kept, ignored: ignored(kept) }).toEqual({ kept, ignored: true });
    }
  });

  it('runs as a non-root user', () => {
    expect(runtime.user).toBeDefined();
    const [user, group] = runtime.user!.split(':');
    expect(['root', '0']).not.toContain(user);
    if (group !== undefined) expect(['root', '0']).not.toContain(group);
  });

  it('exposes the port the service listens on', () => {
    expect(runtime.expose).toEqual([defaults.port]);
    expect(loadConfig({ ...runtime.env, NODE_ENV: 'test' }).port).toBe(defaults.port);
  });

  it('is production by itself: its own settings alone are refused, naming what a deployment must set', () => {
    let problems: string[] = [];
    try {
      loadConfig(runtime.env);
    } catch (error) {
      if (error instanceof ConfigError) problems = error.problems;
    }
    expect(problems.map((line) => line.split(':')[0])).toEqual(DEPLOYMENT_SETTINGS);
  });

  it('starts the compiled service with node, and checks its health on /healthz', () => {
    expect(runtime.cmd).toEqual(['node', 'dist/index.js']);
    expect(runtime.healthcheck?.command[0]).toBe('node');
    expect(runtime.healthcheck?.command.join(' ')).toContain('/healthz');
    expect(runtime.healthcheck?.command.join(' ')).toContain(String(defaults.port));
    expect(Object.keys(runtime.healthcheck?.options ?? {})).toEqual(
      expect.arrayContaining(['interval', 'timeout', 'start-period', 'retries']),
    );
  });
});

/** Commands run with this machine's node and npm, but nothing of the repository's node_modules. */
function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {
    PATH: (process.env.PATH ?? '')
      .split(path.delimiter)
      .filter((dir) => !path.resolve(dir).startsWith(root))
      .join(path.delimiter),
  };
  // HOME: npm's cache and user config (~/.npm, ~/.npmrc); proxies, if this machine needs them.
  for (const name of ['HOME', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy']) {
    if (process.env[name] !== undefined) env[name] = process.env[name]!;
  }
  return { ...env, ...extra };
}

/** Runs a command to its end; rejects with its output when it fails. */
async function run(command: string, args: string[], options: { cwd: string; env: Record<string, string> }): Promise<number> {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0)
    throw Object.assign(new Error(`${command} ${args.join(' ')} exited ${code} in ${options.cwd}:\n${output.slice(-3000)}`), { code });
  return code;
}

/** The exit code, whatever it is. */
async function exitCode(command: string[], options: { cwd: string; env: Record<string, string> }): Promise<number | null> {
  const child = spawn(command[0], command.slice(1), { ...options, stdio: 'ignore' });
  const [code] = (await once(child, 'exit')) as [number | null];
  return code;
}

/** Copies a context file or folder, leaving out what .dockerignore leaves out of the context. */
async function copyFromContext(relative: string, target: string): Promise<void> {
  await cp(path.join(root, relative), target, {
    recursive: true,
    filter: (source) => path.relative(root, source) === relative || !ignored(path.relative(root, source).split(path.sep).join('/')),
  });
}

describe('the Dockerfile, replayed outside Docker', () => {
  let folder: string;
  let s3: S3TestServer;
  let livekit: LiveKitDouble;
  let service: ServiceProcess | undefined;
  /** The runtime stage's folder, replayed once for every test here. */
  let app: string;

  beforeAll(async () => {
    folder = await mkdtemp(path.join(tmpdir(), 'dockerfile-replay-'));
    s3 = await S3TestServer.start();
    livekit = await LiveKitDouble.start(DEPLOYMENT_LIVEKIT_KEYS);
    // The base image's Node is stood in for by the node the replay's commands find on PATH: the same major version.
    const replayNode = execFileSync('node', ['-p', 'process.versions.node'], { env: cleanEnv({}), encoding: 'utf8' }).trim();
    expect(replayNode.split('.')[0]).toBe(String(imageNodeMajor));
    // Nothing above the replay folder may hold a node_modules that would resolve in its place.
    for (let dir = folder; dir !== path.dirname(dir); dir = path.dirname(dir))
      expect(existsSync(path.join(path.dirname(dir), 'node_modules'))).toBe(false);
    await replayBuild();
    app = inStage(runtime.name, runtime.workdir);
  }, 240_000);

  afterAll(async () => {
    service?.child.kill('SIGKILL');
    await livekit?.close();
    await s3?.close();
    await rm(folder, { recursive: true, force: true });
  });

  /** A path in a stage's image, in that stage's folder. */
  const inStage = (stage: string, imagePath: string) => path.join(folder, stage, imagePath);

  async function replayCopy(stage: Stage, step: CopyStep) {
    const dest = path.posix.resolve(step.workdir, step.dest);
    // Docker: several sources, or a destination ending in "/", make the destination a folder.
    const intoFolder = step.dest.endsWith('/') || step.sources.length > 1;
    for (const source of step.sources) {
      const target = inStage(stage.name, intoFolder ? path.posix.join(dest, path.posix.basename(source)) : dest);
      await mkdir(path.dirname(target), { recursive: true });
      if (step.from === undefined) await copyFromContext(source, target);
      // Symlinks (node_modules/.bin) are copied as they are, as COPY does.
      else await cp(inStage(step.from, path.posix.resolve('/', source)), target, { recursive: true, verbatimSymlinks: true });
    }
  }

  /** Every stage, each once the stages it copies from are done (independent ones run side by side, as BuildKit does). */
  function replayBuild(): Promise<void> {
    const done = new Map<string, Promise<void>>();
    for (const stage of stages) {
      const dependencies = copies(stage).flatMap((step) => {
        if (!step.from) return [];
        const dependency = done.get(step.from);
        if (!dependency) throw new Error(`${stage.name} copies from a stage that is not before it`);
        return [dependency];
      });
      done.set(
        stage.name,
        (async () => {
          await Promise.all(dependencies);
          await mkdir(inStage(stage.name, stage.workdir), { recursive: true });
          for (const step of stage.steps) {
            if (step.kind === 'copy') await replayCopy(stage, step);
            else {
              const cwd = inStage(stage.name, step.workdir);
              await mkdir(cwd, { recursive: true });
              // prefer-offline: npm takes what its cache has without asking the registry again (same lock file, same packages).
              await run('sh', ['-c', step.command], { cwd, env: cleanEnv({ ...step.env, npm_config_prefer_offline: 'true' }) });
            }
          }
        })(),
      );
    }
    // Every stage settles before a failure is reported, so no npm is left running in the folder.
    return Promise.allSettled(done.values()).then((results) => {
      const failure = results.find((result) => result.status === 'rejected');
      if (failure) throw failure.reason;
    });
  }

  it("builds, starts with a deployment's keys, answers /healthz and passes its own HEALTHCHECK", async () => {
    expect(existsSync(path.join(app, runtime.cmd![1]))).toBe(true);
    expect(existsSync(path.join(app, 'public', 'index.html'))).toBe(true);
    expect(existsSync(path.join(app, 'src'))).toBe(false);
    // Production dependencies only: what the service serves from node_modules is there, the compiler and test runner are not.
    const modules = await readdir(path.join(app, 'node_modules'));
    expect(modules).toEqual(expect.arrayContaining(['livekit-client', 'express']));
    for (const devOnly of ['typescript', 'jest', 's3rver', 'playwright-core']) expect(modules).not.toContain(devOnly);

    const port = await freePort();
    // No NODE_ENV: production, as the image runs by itself.
    const env = cleanEnv({
      ...runtime.env,
      ...deploymentEnv(livekit, s3),
      SERVER_PORT: String(port),
      LOG_LEVEL: 'warn',
    });
    const started = spawnService(runtime.cmd!, { cwd: app, env });
    service = started;

    const base = `http://127.0.0.1:${port}`;
    const answers200 = (route: string) =>
      eventually(
        () =>
          fetch(`${base}${route}`).then(
            (res) => res.status === 200,
            () => false,
          ),
        { timeoutMs: 20_000, what: `${route} answers 200` },
      ).catch((error: Error) => {
        throw new Error(`${error.message}; the service said:\n${started.output().slice(-3000)}`);
      });
    await answers200('/healthz');
    // Its peers are there too, so it is ready as well, and it serves the browser client.
    await answers200('/readyz');
    expect((await fetch(`${base}/`)).status).toBe(200);

    // The HEALTHCHECK as Docker runs it: the same command in the container, within its --timeout.
    const healthcheck = runtime.healthcheck!;
    const timeoutMs = Number(/^(\d+)s$/.exec(healthcheck.options.timeout)![1]) * 1000;
    const before = Date.now();
    expect(await exitCode(healthcheck.command, { cwd: app, env })).toBe(0);
    expect(Date.now() - before).toBeLessThan(timeoutMs);

    // SIGTERM (docker stop) reaches the CMD's process, which stops cleanly ...
    started.child.kill('SIGTERM');
    expect(await started.exited()).toBe(0);
    service = undefined;
    // The image's Node is one the AWS SDK still supports (it warns below Node 22), so its log carries no such warning ...
    expect(started.output()).not.toContain('NodeVersionSupportWarning');
    // ... and with nothing answering, the HEALTHCHECK fails.
    expect(await exitCode(healthcheck.command, { cwd: app, env })).not.toBe(0);
  }, 120_000);

  it("refuses to start with the image's own settings alone, naming what a deployment must set", async () => {
    const alone = spawnService(runtime.cmd!, { cwd: app, env: cleanEnv({ ...runtime.env, SERVER_PORT: String(await freePort()) }) });
    service = alone;
    expect(await startOrExit(alone)).toBe(1);
    for (const name of DEPLOYMENT_SETTINGS) expect(alone.output()).toMatch(new RegExp(`^  ${name}: .+$`, 'm'));
    service = undefined;
  });
});
