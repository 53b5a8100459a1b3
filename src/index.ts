/** penstock's public API: a broker for programs and tests, and the embedded log without a socket. */
export { startBroker, type StartBrokerOptions, type RunningBroker } from './broker/start.js';
export { openLog } from './embedded.js';
export { brokerConfig, type BrokerConfig, type TopicConfig } from './config.js';
export { ioStatus } from './io/select.js';
