'use strict';
// What main.js and post.js share: inputs, the runner's file commands (GITHUB_PATH, GITHUB_ENV,
// GITHUB_STATE), workflow commands (::error::, ::add-mask::) and running the helper.
// Node's standard library only, and nothing newer than Node 18.

const childProcess = require('child_process');
const fs = require('fs');
const os = require('os');

const NAME = 'git-credential-github-app';

// An input as the runner passes it (INPUT_<NAME>, upper case, spaces as underscores), trimmed;
// `fallback` when empty or unset.
function input(name, fallback = '') {
  const value = process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`];
  const trimmed = (value === undefined ? '' : value).trim();
  return trimmed === '' ? fallback : trimmed;
}

// A workflow command's data, escaped as the runner expects.
function escapeData(s) {
  return String(s).replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

// Tells the runner never to show `value` in the log.
function addMask(value) {
  if (value !== '') process.stdout.write(`::add-mask::${escapeData(value)}\n`);
}

function log(message) {
  process.stdout.write(`${NAME}: ${message}\n`);
}

// One error line in the log (and the job summary's annotations); the step fails.
function fail(message) {
  process.stdout.write(`::error::${escapeData(`${NAME}: ${message}`)}\n`);
  process.exitCode = 1;
}

// Appends `line` to the file the runner names in $`variable` (GITHUB_PATH, GITHUB_ENV,
// GITHUB_STATE). The values written here are paths: one line each, never a secret.
function appendFileCommand(variable, line) {
  const file = process.env[variable];
  if (!file) throw new Error(`$${variable} is not set: this action runs only as a step of a GitHub Actions job`);
  if (/[\r\n]/.test(line)) throw new Error(`a value for $${variable} holds a line break`);
  fs.appendFileSync(file, line + os.EOL);
}

// Passes `value` to the post step, which reads it as $STATE_<name>.
function saveState(name, value) {
  appendFileCommand('GITHUB_STATE', `${name}=${value}`);
}

// The environment for a program the action runs: the step's own, without the runner's INPUT_*
// variables, which hold the inputs (the private key among them) and which the programs do not
// read; the helper passes its environment on to git, and git to whatever it runs.
function childEnv() {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^INPUT_/i.test(name)));
}

// Runs the helper with `args`, its output going to the log; returns its exit status.
function runHelper(bin, args) {
  log(`running ${[bin, ...args].join(' ')}`);
  const result = childProcess.spawnSync(bin, args, { stdio: ['ignore', 'inherit', 'inherit'], env: childEnv() });
  if (result.error) throw new Error(`could not run ${bin}: ${result.error.message}`);
  return result.status === null ? 1 : result.status;
}

module.exports = { NAME, input, addMask, log, fail, appendFileCommand, saveState, childEnv, runHelper };
