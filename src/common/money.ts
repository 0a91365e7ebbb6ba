/**
 * Money travels as PostgreSQL numeric strings ("100.00"). Arithmetic happens in SQL or in integer
 * cents here, never in floating point.
 */
const MONEY_PATTERN = /^-?\d+(\.\d{1,2})?$/;

export function isMoney(value: string): boolean {
  return MONEY_PATTERN.test(value);
}

export function toCents(value: string): bigint {
  const text = value.trim();
  if (!/^-?\d+(\.\d+)?$/.test(text)) throw new Error(`Not a decimal amount: ${value}`);
  const negative = text.startsWith('-');
  const [whole, fraction = ''] = text.replace('-', '').split('.');
  if (fraction.length > 2 && /[1-9]/.test(fraction.slice(2))) {
    throw new Error(`More than 2 decimals: ${value}`);
  }
  const cents = BigInt(whole) * 100n + BigInt((fraction + '00').slice(0, 2));
  return negative ? -cents : cents;
}

export function centsToString(cents: bigint): string {
  const negative = cents < 0n;
  const abs = negative ? -cents : cents;
  const text = `${abs / 100n}.${(abs % 100n).toString().padStart(2, '0')}`;
  return negative ? `-${text}` : text;
}

/** Money as a JSON number with at most 2 decimals (exact for any amount the schema can hold). */
export function moneyToJson(value: string | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  return Number(centsToString(toCents(value)));
}

/** A JSON number given by a client, as an exact amount of cents (rejecting a third decimal). */
export function jsonNumberToCents(value: number): bigint {
  return toCents(String(value));
}
