import type { Command } from 'commander';
import { register as up } from './up.js';
import { register as demo } from './demo.js';
import { register as validate } from './validate.js';
import { register as oci } from './oci.js';
import { register as kube } from './kube.js';
import { register as queue } from './queue.js';
import { register as dlq } from './dlq.js';
import { register as simulate } from './simulate.js';
import { register as mail } from './mail.js';
import { register as newCommand } from './new.js';
import { register as httpProxy } from './http-proxy.js';
import { register as run } from './run.js';
import { register as call } from './call.js';

/** Each command lives in its own file and registers itself on the program. */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [demo, up, validate, oci, kube, queue, dlq, simulate, mail, newCommand, httpProxy, run, call];
