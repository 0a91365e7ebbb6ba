import { centsToString, jsonNumberToCents, moneyToJson, toCents } from './money';

describe('money', () => {
  it('parses numeric strings into exact cents', () => {
    expect(toCents('100.00')).toBe(10000n);
    expect(toCents('0.1')).toBe(10n);
    expect(toCents('-2.05')).toBe(-205n);
    expect(toCents('12')).toBe(1200n);
    expect(toCents('1.230')).toBe(123n);
  });

  it('refuses amounts with a third significant decimal or garbage', () => {
    expect(() => toCents('1.005')).toThrow('More than 2 decimals');
    expect(() => toCents('abc')).toThrow('Not a decimal amount');
  });

  it('prints cents back without float drift', () => {
    expect(centsToString(30n)).toBe('0.30');
    expect(centsToString(-5n)).toBe('-0.05');
    // 0.1 + 0.2 in cents is exactly 0.30
    expect(centsToString(jsonNumberToCents(0.1) + jsonNumberToCents(0.2))).toBe('0.30');
  });

  it('renders numeric strings as JSON numbers', () => {
    expect(moneyToJson('900.00')).toBe(900);
    expect(moneyToJson('19.99')).toBe(19.99);
    expect(moneyToJson(null)).toBeNull();
  });
});
