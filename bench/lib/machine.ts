import { cpus, totalmem } from 'node:os';
import type pg from 'pg';
import type { ManagementApi } from '@psc/messaging';

export interface Machine {
  cpu: string;
  cores: number;
  ramGb: number;
  node: string;
  rabbitmq: string;
  erlang: string;
  postgres: string;
  platform: string;
}

/** What the figures were measured on; RabbitMQ's version comes from its management API. */
export async function describeMachine(db: pg.Pool, management: ManagementApi): Promise<Machine> {
  const cpuList = cpus();
  const { rows } = await db.query<{ server_version: string }>('show server_version');
  let rabbitmq = 'unknown';
  let erlang = 'unknown';
  try {
    const overview = await management.get<{ rabbitmq_version?: string; erlang_version?: string }>(
      '/api/overview',
    );
    rabbitmq = overview.rabbitmq_version ?? rabbitmq;
    erlang = overview.erlang_version ?? erlang;
  } catch {
    // The version is informative only; the run does not depend on it.
  }
  return {
    cpu: cpuList[0]?.model.trim() ?? 'unknown',
    cores: cpuList.length,
    ramGb: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    rabbitmq,
    erlang,
    postgres: rows[0]?.server_version ?? 'unknown',
    platform: `${process.platform} ${process.arch}`,
  };
}
