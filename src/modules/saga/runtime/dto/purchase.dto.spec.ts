import type { ArgumentMetadata } from '@nestjs/common';
import fc from 'fast-check';
import { createValidationPipe } from '../../../../common/http/validation.pipe';
import { MAX_QUANTITY, PurchaseDto } from './purchase.dto';

const body: ArgumentMetadata = { type: 'body', metatype: PurchaseDto };

type Outcome = { accepted: true; value: unknown } | { accepted: false; error: unknown };

async function outcomeOf(pipe: ReturnType<typeof createValidationPipe>, value: unknown) {
  try {
    return { accepted: true, value: (await pipe.transform(value, body)) as unknown } as Outcome;
  } catch (error) {
    return { accepted: false, error } as Outcome;
  }
}

/** Values near every edge of each field's rules, and of other types. */
const id = fc.oneof(
  fc.constantFrom('user-123', 'item-sword', 'a', 'A.b_c:d-9', 'x'.repeat(50), 'x'.repeat(51)),
  fc.constantFrom('', '-a', 'a b', 'é', 'a\u0000', '\ud800', 'a/b'),
  fc.string({ maxLength: 60 }),
  fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,55}$/),
);
const number = fc.oneof(
  fc.integer({ min: -5, max: MAX_QUANTITY + 5 }),
  fc.constantFrom(
    0,
    -0,
    1,
    MAX_QUANTITY,
    MAX_QUANTITY + 1,
    1.5,
    10.25,
    10.255,
    1e-7,
    1e21,
    1_000_000_000,
    1_000_000_000.01,
  ),
  fc.double(),
);
const other = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.constant([]),
  fc.constant({}),
  fc.string({ maxLength: 5 }),
);
const field = <T>(arbitrary: fc.Arbitrary<T>) =>
  fc.option(fc.oneof({ weight: 4, arbitrary }, { weight: 1, arbitrary: other }), {
    nil: undefined,
    freq: 6,
  });
const purchase = fc
  .record(
    {
      userId: field(id),
      itemId: field(id),
      quantity: field(number),
      price: field(number),
      pattern: field(fc.constantFrom('orchestration', 'choreography', 'saga', 'ORCHESTRATION')),
      extra: field(fc.string({ maxLength: 3 })),
    },
    { requiredKeys: [] },
  )
  .map((fields) =>
    // As JSON would carry it: no key holding undefined.
    Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)),
  );

/** Purchases that should pass, so that both answers are met often. */
const valid = fc
  .record(
    {
      userId: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,49}$/),
      itemId: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,49}$/),
      quantity: fc.integer({ min: 1, max: MAX_QUANTITY }),
      price: fc.integer({ min: 0, max: 100_000_000_000 }).map((cents) => cents / 100),
      pattern: fc.constantFrom('orchestration', 'choreography'),
    },
    { requiredKeys: ['userId', 'itemId', 'quantity'] },
  )
  .map((fields) =>
    Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)),
  );

/** A valid purchase with one field changed to a value near an edge, or of another type. */
const nearlyValid = fc
  .tuple(
    valid,
    fc.constantFrom('userId', 'itemId', 'quantity', 'price', 'pattern', 'extra'),
    fc.oneof(
      id,
      number,
      other,
      fc.constantFrom('orchestration', 'saga'),
      // The bounds of quantity and price, and just past them.
      fc.constantFrom(0, -0.01, MAX_QUANTITY, MAX_QUANTITY + 1, 1e9, 1e9 + 0.01, 1e9 + 1, 10.255),
    ),
  )
  .map(([fields, key, value]) => ({ ...fields, [key]: value }));

describe('PurchaseDto.acceptsPlain, the validation fast path', () => {
  const reference = createValidationPipe({ handChecks: false });
  const pipe = createValidationPipe();

  it('accepts exactly what class-validator accepts, and makes the same DTO', async () => {
    let accepted = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          valid,
          nearlyValid,
          nearlyValid,
          purchase,
          other,
          fc.array(fc.anything(), { maxLength: 2 }),
        ),
        async (value) => {
          const expected = await outcomeOf(reference, value);
          const actual = await outcomeOf(pipe, value);
          expect(PurchaseDto.acceptsPlain(value)).toBe(expected.accepted);
          expect(actual.accepted).toBe(expected.accepted);
          if (expected.accepted && actual.accepted) {
            accepted += 1;
            expect(actual.value).toBeInstanceOf(PurchaseDto);
            expect(actual.value).toStrictEqual(expected.value);
          } else if (!expected.accepted && !actual.accepted) {
            refused += 1;
            expect(actual.error).toStrictEqual(expected.error);
          }
        },
      ),
      { numRuns: 3000 },
    );
    // Both sides of the rule were exercised, many times each.
    expect(accepted).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(100);
  });

  it('takes the fast path for a valid purchase (class-validator never runs)', async () => {
    const spy = jest.spyOn(
      reference.constructor.prototype as { transform: () => unknown },
      'transform',
    );
    const value = { userId: 'user-123', itemId: 'item-sword', quantity: 2, price: 20 };
    await expect(pipe.transform(value, body)).resolves.toStrictEqual(
      Object.assign(new PurchaseDto(), value),
    );
    expect(spy).not.toHaveBeenCalled();
    spy.mockRestore();
  });
});
