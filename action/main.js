'use strict';
// The action's main step: downloads the release archive for the runner's OS and architecture,
// checks it against the release's SHA256SUMS, puts the binary on PATH (GITHUB_PATH), writes the
// private key (mode 0600) and a config beside it in a fresh directory under RUNNER_TEMP, and
// runs `configure`. The key goes only into that file: never into GITHUB_ENV, the log or a
// child's arguments or environment. post.js undoes all of it.

const childProcess = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const https = require('https');
const path = require('path');
const { NAME, input, addMask, log, fail, appendFileCommand, saveState, childEnv, runHelper } = require('./lib.js');

// The largest download accepted (a release archive is about 3 MB).
const MAX_DOWNLOAD = 64 << 20;
const TIMEOUT_MS = 60000;

// The release target for the runner (RUNNER_OS, RUNNER_ARCH), as in the archive names.
function releaseTarget() {
  const osName = process.env.RUNNER_OS || '';
  const arch = process.env.RUNNER_ARCH || '';
  const targets = {
    'Linux X64': 'x86_64-unknown-linux-musl',
    'Linux ARM64': 'aarch64-unknown-linux-musl',
    'macOS X64': 'x86_64-apple-darwin',
    'macOS ARM64': 'aarch64-apple-darwin',
    'Windows X64': 'x86_64-pc-windows-gnu',
  };
  const target = targets[`${osName} ${arch}`];
  if (!target) {
    throw new Error(
      `no release archive for a ${osName || '(RUNNER_OS unset)'} ${arch || '(RUNNER_ARCH unset)'} runner: ` +
        'releases are built for Linux X64/ARM64, macOS X64/ARM64 and Windows X64',
    );
  }
  return target;
}

// The version to install: the `version` input, else the action's ref when it is a tag vX.Y.Z,
// else the version in the Cargo.toml this action came with.
function releaseVersion() {
  let version = input('version').replace(/^v/, '');
  if (version === '') {
    const ref = /^v(\d+\.\d+\.\d+\S*)$/.exec(process.env.GITHUB_ACTION_REF || '');
    if (ref) {
      version = ref[1];
    } else {
      const cargo = fs.readFileSync(path.join(__dirname, '..', 'Cargo.toml'), 'utf8');
      const found = /^version\s*=\s*"([^"]+)"/m.exec(cargo);
      if (!found) throw new Error('no `version` input and no version in the action\'s Cargo.toml: set `version`');
      version = found[1];
    }
  }
  if (!/^[0-9A-Za-z][0-9A-Za-z.+-]*$/.test(version)) {
    throw new Error(`input version "${version}" is not a version such as 0.1.0`);
  }
  return version;
}

// Where the archives and SHA256SUMS are: `base-url`, else this action's repository's release.
function releaseBaseUrl(version) {
  const given = input('base-url');
  if (given !== '') return given.replace(/\/+$/, '');
  const server = (process.env.GITHUB_SERVER_URL || 'https://github.com').replace(/\/+$/, '');
  const repository = process.env.GITHUB_ACTION_REPOSITORY || process.env.GITHUB_REPOSITORY || '';
  if (repository === '') throw new Error('GITHUB_ACTION_REPOSITORY is not set: give `base-url`');
  return `${server}/${repository}/releases/download/v${version}`;
}

function isLoopback(hostname) {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

// GET `url` into a Buffer, following up to five redirects (release downloads redirect to a
// storage host), never from https:// down to http://; http:// only for a loopback address.
function download(url, redirects = 5) {
  return new Promise((resolve, reject) => {
    let parsed;
    try {
      parsed = new URL(url);
    } catch (e) {
      reject(new Error(`"${url}" is not a URL (input base-url)`));
      return;
    }
    const secure = parsed.protocol === 'https:';
    if (!secure && !(parsed.protocol === 'http:' && isLoopback(parsed.hostname))) {
      reject(new Error(`${url}: downloads need https:// (http:// only for a loopback address)`));
      return;
    }
    const request = (secure ? https : http).get(
      parsed,
      { headers: { 'User-Agent': `${NAME}-action` }, timeout: TIMEOUT_MS },
      (response) => {
        const status = response.statusCode || 0;
        if ([301, 302, 303, 307, 308].includes(status) && response.headers.location) {
          response.resume();
          const next = new URL(response.headers.location, parsed);
          if (redirects === 0) {
            reject(new Error(`GET ${url}: too many redirects`));
          } else if (secure && next.protocol !== 'https:') {
            reject(new Error(`GET ${url}: redirected from https:// to ${next.protocol}//, refused`));
          } else {
            download(next.href, redirects - 1).then(resolve, reject);
          }
          return;
        }
        if (status !== 200) {
          response.resume();
          reject(new Error(`GET ${url}: HTTP ${status}${status === 404 ? ' (is there a release with this version?)' : ''}`));
          return;
        }
        const chunks = [];
        let size = 0;
        response.on('data', (chunk) => {
          size += chunk.length;
          if (size > MAX_DOWNLOAD) {
            request.destroy(new Error(`GET ${url}: larger than ${MAX_DOWNLOAD} bytes`));
          } else {
            chunks.push(chunk);
          }
        });
        response.on('end', () => resolve(Buffer.concat(chunks)));
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`GET ${url}: no answer within ${TIMEOUT_MS / 1000} s`)));
    request.on('error', (e) => reject(new Error(e.message.startsWith('GET ') ? e.message : `GET ${url}: ${e.message}`)));
  });
}

// The SHA-256 that `sums` (sha256sum's format) lists for `file`.
function expectedSha256(sums, file, sumsUrl) {
  for (const line of sums.split(/\r?\n/)) {
    const m = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line);
    if (m && m[2] === file) return m[1].toLowerCase();
  }
  throw new Error(`${sumsUrl} lists no checksum for ${file}: refusing to install it`);
}

// The key as a PEM file's text: accepts the PEM itself, the PEM with `\n` escapes on one line,
// or its base64. Never echoes any of it.
function pemFromInput(raw) {
  let key = raw.replace(/\r\n/g, '\n').trim();
  if (!key.includes('-----BEGIN')) {
    const decoded = Buffer.from(key.replace(/\s+/g, ''), 'base64').toString('utf8');
    if (decoded.includes('-----BEGIN')) key = decoded.replace(/\r\n/g, '\n').trim();
  }
  if (!key.includes('\n') && key.includes('\\n')) key = key.replace(/\\n/g, '\n');
  if (!/^-----BEGIN ([A-Z ]*)PRIVATE KEY-----\n[\s\S]+\n-----END \1PRIVATE KEY-----$/.test(key)) {
    throw new Error(
      'input private-key is not a PEM private key (nor its base64): store the whole .pem file ' +
        'GitHub gave you as a secret and pass it as `private-key: ${{ secrets.NAME }}`',
    );
  }
  return `${key}\n`;
}

// Masks every line of the key as given and as written, so no form of it reaches the log.
function maskKey(raw, pem) {
  const lines = new Set([raw.trim(), ...raw.split(/\r?\n|\\n/), ...pem.split('\n')]);
  for (const line of lines) {
    const t = line.trim();
    if (t !== '' && !/^-----(BEGIN|END) /.test(t)) addMask(t);
  }
}

// A TOML basic string.
function tomlString(s) {
  return `"${s.replace(/[\\"\u0000-\u001f\u007f]/g, (c) => {
    const named = { '\\': '\\\\', '"': '\\"', '\n': '\\n', '\t': '\\t', '\r': '\\r' }[c];
    return named || `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  })}"`;
}

// The config file's text (docs/configuration.md): the job's own cache directory, the vault
// settings when the key is in a vault, and one [[app]] table.
function configToml({ dir, appId, keyPath, vault }) {
  const lines = [
    `# Written by the ${NAME} action for this job; its post step deletes it.`,
    `cache_dir = ${tomlString(path.join(dir, 'cache'))}`,
  ];
  if (vault) {
    lines.push('', '[vault]', `address = ${tomlString(vault.address)}`);
    lines.push('', '[vault.login]', `role = ${tomlString(vault.role)}`);
    lines.push(`github_actions_audience = ${tomlString(vault.audience)}`);
  }
  lines.push('', '[[app]]', `app_id = ${/^\d+$/.test(appId) ? appId : tomlString(appId)}`);
  lines.push(vault ? `transit_key = ${tomlString(vault.transitKey)}` : `private_key_path = ${tomlString(keyPath)}`);
  lines.push(`host = ${tomlString(input('host', 'github.com'))}`);
  const apiUrl = input('api-url');
  if (apiUrl !== '') lines.push(`api_url = ${tomlString(apiUrl)}`);
  const repos = input('repos').split(/[\s,]+/).filter((r) => r !== '');
  if (repos.length > 0) lines.push(`repos = [${repos.map(tomlString).join(', ')}]`);
  if (readPublicRepos()) lines.push('read_public_repos = true');
  return `${lines.join('\n')}\n`;
}

// The read-public-repos input: true or false.
function readPublicRepos() {
  const value = input('read-public-repos', 'false');
  if (!['true', 'false'].includes(value)) {
    throw new Error(`input read-public-repos is "${value}": use true or false`);
  }
  return value === 'true';
}

// The key source: the private-key input, or all four vault inputs.
function keySource() {
  const raw = input('private-key');
  const vaultInputs = { address: 'vault-addr', transitKey: 'transit-key', role: 'vault-role', audience: 'audience' };
  const vault = {};
  for (const [key, name] of Object.entries(vaultInputs)) vault[key] = input(name);
  const given = Object.entries(vaultInputs).filter(([key]) => vault[key] !== '');
  if (raw !== '' && given.length > 0) {
    throw new Error(`give private-key or the vault inputs, not both (${given.map(([, n]) => n).join(', ')} set)`);
  }
  if (raw !== '') {
    const pem = pemFromInput(raw);
    maskKey(raw, pem);
    return { pem };
  }
  if (given.length === 0) {
    throw new Error('no key: give `private-key` (a secret), or vault-addr, transit-key, vault-role and audience');
  }
  const missing = Object.entries(vaultInputs).filter(([key]) => vault[key] === '').map(([, n]) => n);
  if (missing.length > 0) throw new Error(`the vault inputs need ${missing.join(', ')} too`);
  return { vault };
}

async function main() {
  const appId = input('app-id');
  if (appId === '') throw new Error('input app-id is required (the App ID, or the client ID "Iv23li...")');
  const key = keySource();
  readPublicRepos();
  const target = releaseTarget();
  const version = releaseVersion();
  const base = releaseBaseUrl(version);
  const windows = target.endsWith('-windows-gnu');
  const stem = `${NAME}-${version}-${target}`;
  const archiveName = `${stem}${windows ? '.zip' : '.tar.gz'}`;

  const runnerTemp = process.env.RUNNER_TEMP;
  if (!runnerTemp) throw new Error('RUNNER_TEMP is not set: this action runs only as a step of a GitHub Actions job');
  // The job's directory: binary, key, config, cache. Only this user can enter it.
  const dir = fs.mkdtempSync(path.join(runnerTemp, `${NAME}-`));
  fs.chmodSync(dir, 0o700);
  saveState('dir', dir);

  log(`downloading ${base}/${archiveName} and ${base}/SHA256SUMS`);
  const [archive, sums] = await Promise.all([download(`${base}/${archiveName}`), download(`${base}/SHA256SUMS`)]);
  const expected = expectedSha256(sums.toString('utf8'), archiveName, `${base}/SHA256SUMS`);
  const actual = crypto.createHash('sha256').update(archive).digest('hex');
  if (actual !== expected) {
    throw new Error(
      `${archiveName} does not match SHA256SUMS (sha256 ${actual}, listed ${expected}): refusing to install it`,
    );
  }
  log(`${archiveName}: sha256 ${actual} matches SHA256SUMS`);

  const archivePath = path.join(dir, archiveName);
  fs.writeFileSync(archivePath, archive, { mode: 0o600 });
  const tar = windows ? path.join(process.env.SystemRoot || 'C:\\Windows', 'System32', 'tar.exe') : 'tar';
  const extracted = childProcess.spawnSync(tar, [windows ? '-xf' : '-xzf', archivePath, '-C', dir], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: childEnv(),
  });
  if (extracted.error || extracted.status !== 0) {
    throw new Error(`could not extract ${archiveName} with ${tar}${extracted.error ? `: ${extracted.error.message}` : ''}`);
  }
  fs.rmSync(archivePath);
  const binDir = path.join(dir, stem);
  const bin = path.join(binDir, windows ? `${NAME}.exe` : NAME);
  if (!fs.existsSync(bin)) throw new Error(`${archiveName} holds no ${path.basename(bin)} in ${stem}/`);
  saveState('bin', bin);

  const config = path.join(dir, 'config.toml');
  let keyPath = '';
  if (key.pem) {
    keyPath = path.join(dir, 'app.pem');
    fs.writeFileSync(keyPath, key.pem, { mode: 0o600, flag: 'wx' });
  }
  fs.writeFileSync(config, configToml({ dir, appId, keyPath, vault: key.vault }), { mode: 0o600, flag: 'wx' });
  saveState('config', config);

  appendFileCommand('GITHUB_PATH', binDir);
  // Later steps' `git-credential-github-app token OWNER/REPO` find the config (a path, no secret).
  appendFileCommand('GITHUB_ENV', `GIT_CREDENTIAL_GITHUB_APP_CONFIG=${config}`);
  const status = runHelper(bin, ['--config', config, 'configure']);
  if (status !== 0) throw new Error(`\`configure\` failed with exit status ${status} (its message is above)`);
  log(`git uses the app for ${input('host', 'github.com')} until the job ends; the post step revokes its tokens`);
}

main().catch((e) => fail(e.message));
