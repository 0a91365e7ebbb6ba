import { timeOrderedId } from './time-ordered-id';

describe('timeOrderedId', () => {
  it('is a version 7 UUID carrying the time it was made', () => {
    const id = timeOrderedId(Date.UTC(2030, 0, 1));

    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(Date.UTC(2030, 0, 1));
  });

  it('sorts ids made later after earlier ones, and never repeats', () => {
    const earlier = Array.from({ length: 100 }, () => timeOrderedId(1_000));
    const later = Array.from({ length: 100 }, () => timeOrderedId(1_001));

    expect(new Set([...earlier, ...later]).size).toBe(200);
    for (const a of earlier) for (const b of later) expect(a < b).toBe(true);
  });
});
