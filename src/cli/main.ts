#!/usr/bin/env node
const USAGE = `usage: penstock <command> [options]

commands:
  broker     run a broker (default 127.0.0.1:9092, data in ./penstock-data)
  topics     list, create, describe and delete topics
  produce    produce lines of stdin as records
  consume    print records, alone or as a member of a consumer group
  groups     list consumer groups; describe their members and lag
  info       print version, I/O backend and addon as JSON

The client commands talk to a running broker: --bootstrap-server HOST:PORT (default 127.0.0.1:9092).
Run 'penstock <command> --help' for a command's options.

exit codes: 0 success, 1 runtime error (broker unreachable, request refused), 2 usage error.`;

/** Each command is loaded when run, so `penstock topics` does not load the broker and its storage. */
const COMMANDS: Record<string, () => Promise<(argv: string[]) => Promise<number>>> = {
  broker: async () => (await import('./broker-command.js')).runBroker,
  topics: async () => (await import('./topics-command.js')).runTopics,
  produce: async () => (await import('./produce-command.js')).runProduce,
  consume: async () => (await import('./consume-command.js')).runConsume,
  groups: async () => (await import('./groups-command.js')).runGroups,
  info: async () => (await import('./info-command.js')).runInfo,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === '--version' || command === '-v') return (await COMMANDS.info!())(['--version']);
  const load = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!load) {
    console.error(`penstock: unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  return (await load())(rest);
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
