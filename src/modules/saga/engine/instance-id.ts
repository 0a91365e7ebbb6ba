import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/** Who holds a saga's lease: unique per process, readable in the database. */
export const INSTANCE_ID = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
