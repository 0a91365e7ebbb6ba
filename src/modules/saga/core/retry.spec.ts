import { backoffDelay } from './retry';

describe('backoffDelay', () => {
  it('doubles the ceiling per attempt up to the maximum', () => {
    const top = () => 0.999999;
    expect(backoffDelay(1, 20, 500, top)).toBe(19);
    expect(backoffDelay(2, 20, 500, top)).toBe(39);
    expect(backoffDelay(3, 20, 500, top)).toBe(79);
    expect(backoffDelay(10, 20, 500, top)).toBe(499);
  });

  it('jitters down to zero', () => {
    expect(backoffDelay(4, 20, 500, () => 0)).toBe(0);
  });
});
