export { createPool, formatMs, poolWorkers } from './pool.js';
export type { Abi, CommandJob, CommandResult, ExportJob, ExportResult, Job, JobMeta, JobResult, Pool, PoolOptions, PoolStats } from './pool.js';
