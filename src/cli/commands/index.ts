import type { Command } from 'commander';
import { register as oci } from './oci.js';
import { register as kube } from './kube.js';
import { register as queue } from './queue.js';
import { register as dlq } from './dlq.js';
import { register as simulate } from './simulate.js';
import { register as mail } from './mail.js';

/** Each command lives in its own file and registers itself on the program. */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [oci, kube, queue, dlq, simulate, mail];
