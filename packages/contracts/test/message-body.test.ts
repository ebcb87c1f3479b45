import { describe, expect, it } from '@jest/globals';
import { type EventEnvelope, encodeMessageBody } from '../src/events.ts';

/** What SQS accepts in a message body, character by character (its documented set). */
function acceptedBySqs(body: string): boolean {
  for (const ch of body) {
    const c = ch.codePointAt(0) as number;
    const ok = c === 0x9 || c === 0xa || c === 0xd || (c >= 0x20 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd) || c >= 0x10000;
    if (!ok) return false;
  }
  return true;
}

function envelope(notes: string): EventEnvelope {
  return {
    eventId: '0b9e1c5e-2d7c-4c57-9a38-0a1f5d6c7e80',
    type: 'reservation.created',
    aggregateType: 'reservation',
    aggregateId: '5f1d3c2b-1a0e-4f9d-8c7b-6a5e4d3c2b1a',
    version: 1,
    occurredAt: '2031-01-01T10:00:00.000Z',
    payload: { notes, nested: [{ notes }] },
  };
}

describe('encodeMessageBody', () => {
  it.each([
    ['U+FFFF', 'a\uFFFFb', '\\uffff'],
    ['U+FFFE', 'a\uFFFEb', '\\ufffe'],
    ['a lone high surrogate', 'a\uD800b', '\\ud800'],
    ['a lone low surrogate', 'a\uDFFFb', '\\udfff'],
    ['NUL', 'a\u0000b', '\\u0000'],
    ['a C0 control', 'a\u001Fb', '\\u001f'],
  ])('escapes %s, and JSON.parse gives the envelope back', (_name, notes, escaped) => {
    const event = envelope(notes);
    const body = encodeMessageBody(event);
    expect(acceptedBySqs(body)).toBe(true);
    expect(body).toContain(escaped);
    expect(JSON.parse(body)).toEqual(event);
  });

  it('leaves what SQS accepts as it is: tabs, newlines, astral characters, the edges of the ranges', () => {
    const notes = 'tab\tnl\ncr\r 😀 \uD7FF \uE000 \uFFFD 𐀀 \u{10FFFF} «é»';
    const event = envelope(notes);
    const body = encodeMessageBody(event);
    expect(body).toBe(JSON.stringify(event));
    expect(body).toContain('😀 \uD7FF \uE000 \uFFFD 𐀀 \u{10FFFF} «é»');
    expect(acceptedBySqs(body)).toBe(true);
    expect(JSON.parse(body)).toEqual(event);
  });

  it('escapes every refused character of the BMP, one pass over all of them', () => {
    let all = '';
    for (let c = 0; c <= 0xffff; c++) all += String.fromCharCode(c);
    const event = envelope(all);
    const body = encodeMessageBody(event);
    expect(acceptedBySqs(body)).toBe(true);
    expect(JSON.parse(body)).toEqual(event);
  });
});
