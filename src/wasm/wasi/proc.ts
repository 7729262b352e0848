/** proc_exit / proc_raise, and the socket calls (no sockets are ever handed to a guest). */
import type { Call } from './context.js';
import { E } from './errno.js';

/** Thrown by proc_exit to unwind the guest; not an Error, so no stack is captured. */
export class ProcExit {
  constructor(readonly code: number) {}
}

/** BADF for a closed fd, NOTSOCK for any open one: a guest gets no sockets (not preopened, no sock_open). */
const notSocket: Call = (ctx, fd: number) => (ctx.fds.peek(fd) ? E.NOTSOCK : E.BADF);

export const procCalls: Record<string, Call> = {
  proc_exit(_ctx, code: number): number {
    throw new ProcExit(code >>> 0);
  },
  proc_raise() { return E.NOSYS; },
  sock_accept: notSocket,
  sock_recv: notSocket,
  sock_send: notSocket,
  sock_shutdown: notSocket,
};
