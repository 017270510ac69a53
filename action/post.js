'use strict';
// The action's post step (runs when the job ends, whatever its outcome): revokes the tokens
// the job minted (they live in the job's own cache directory), removes the git config entries
// `configure` added, and deletes the directory under RUNNER_TEMP that holds the binary, the
// key, the config and the cache. State comes from main.js through GITHUB_STATE.

const fs = require('fs');
const { log, fail, runHelper } = require('./lib.js');

function main() {
  const dir = process.env.STATE_dir || '';
  const bin = process.env.STATE_bin || '';
  const config = process.env.STATE_config || '';
  if (dir === '') {
    log('nothing to clean up: the main step stopped before it wrote anything');
    return;
  }
  const problems = [];
  if (bin !== '' && config !== '' && fs.existsSync(bin) && fs.existsSync(config)) {
    if (runHelper(bin, ['--config', config, 'revoke']) !== 0) {
      problems.push('`revoke` could not revoke every token (see above); each expires within an hour of its minting');
    }
    if (runHelper(bin, ['--config', config, 'unconfigure']) !== 0) {
      problems.push('`unconfigure` failed (see above): the git config may still name the deleted helper');
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
  log(`deleted ${dir} (the binary, the key, the config and the token cache)`);
  for (const problem of problems) fail(problem);
}

try {
  main();
} catch (e) {
  fail(e.message);
}
