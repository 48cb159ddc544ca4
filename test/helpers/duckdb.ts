/** Reads a Furrow DuckDB warehouse file (after the process that writes it has stopped). */
import { DuckDBInstance } from '@duckdb/node-api';

export async function queryWarehouse(path: string, sql: string): Promise<Record<string, unknown>[]> {
  const db = await DuckDBInstance.create(path, { access_mode: 'READ_ONLY' });
  try {
    const conn = await db.connect();
    try {
      return (await conn.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
    } finally {
      conn.closeSync();
    }
  } finally {
    db.closeSync();
  }
}
