import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../../../database/transaction-host';

@Injectable()
export class SagaSettingsRepository {
  constructor(private readonly tx: TransactionHost) {}

  async get(key: string): Promise<string | undefined> {
    const row = await this.tx.one<{ value: string }>(
      'SELECT value FROM saga_settings WHERE key = $1',
      [key],
    );
    return row?.value;
  }

  async set(key: string, value: string): Promise<void> {
    await this.tx.query(
      `INSERT INTO saga_settings (key, value) VALUES ($1, $2)
       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
      [key, value],
    );
  }
}
