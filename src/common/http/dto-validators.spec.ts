import { isIdentifier } from '../identifiers';
import { isPlainText } from './dto-validators';

describe('input rules', () => {
  it('takes identifiers of letters, digits and . _ : - within their kind length', () => {
    expect(isIdentifier('user-123', 'entity')).toBe(true);
    expect(isIdentifier('a.b_c:d-e', 'entity')).toBe(true);
    expect(isIdentifier('x'.repeat(50), 'entity')).toBe(true);
    expect(isIdentifier('x'.repeat(51), 'entity')).toBe(false);
    expect(isIdentifier(`TXN_${'0'.repeat(96)}`, 'transaction')).toBe(true);
    expect(isIdentifier(`TXN_${'0'.repeat(97)}`, 'transaction')).toBe(false);
  });

  it.each([
    ['empty', ''],
    ['a NUL', 'user\u0000'],
    ['a lone surrogate', '\ud800'],
    ['a space', 'user 1'],
    ['a leading dash', '-user'],
    ['a slash', 'a/b'],
    ['a non-ASCII letter', 'usér'],
    ['a right-to-left override', '\u202euser'],
  ])('refuses an identifier with %s', (_name, value) => {
    expect(isIdentifier(value, 'entity')).toBe(false);
  });

  it('refuses identifiers that are not strings', () => {
    expect(isIdentifier(123, 'entity')).toBe(false);
    expect(isIdentifier(undefined, 'entity')).toBe(false);
  });

  it('takes any well-formed text with tabs and line breaks, and no other control', () => {
    expect(isPlainText('Magic Sword \u2694\ufe0f 😀')).toBe(true);
    expect(isPlainText('line 1\nline 2\r\n\tindented')).toBe(true);
    expect(isPlainText('')).toBe(true);
    expect(isPlainText('a\u0000b')).toBe(false);
    expect(isPlainText('bell\u0007')).toBe(false);
    expect(isPlainText('del\u007f')).toBe(false);
    expect(isPlainText('c1\u0085')).toBe(false);
    expect(isPlainText('lone \udc00 low')).toBe(false);
    expect(isPlainText('lone \ud83d high')).toBe(false);
    expect(isPlainText(7)).toBe(false);
  });
});
