#!/usr/bin/env node
import { runBroker } from './broker-command.js';
import { runInfo } from './info-command.js';

const USAGE = `usage: penstock <command> [options]

commands:
  broker     run a broker (default 127.0.0.1:9092, data in ./penstock-data)
  info       print version, I/O backend and addon as JSON

Run 'penstock <command> --help' for a command's options.`;

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  broker: runBroker,
  info: runInfo,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === '--version' || command === '-v') return runInfo(['--version']);
  const run = COMMANDS[command];
  if (!run) {
    console.error(`penstock: unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  return run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    console.error(`penstock: ${err.message}`);
    process.exitCode = 1;
  },
);
