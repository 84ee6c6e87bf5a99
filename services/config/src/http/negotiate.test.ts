import { describe, expect, it } from 'vitest';
import { ApiError } from './errors.js';
import { bodyFormat, replyFormat } from './negotiate.js';

describe('bodyFormat', () => {
  it.each([
    [undefined, 'json'],
    ['application/json', 'json'],
    ['Application/JSON; charset=UTF-8', 'json'],
    ['application/fhir+json', 'json'],
    ['text/yaml', 'yaml'],
    ['application/yaml', 'yaml'],
    ['application/x-yaml', 'yaml'],
    ['application/x-www-form-urlencoded', 'form'],
  ] as const)('reads %s as %s', (header, format) => {
    expect(bodyFormat(header, ['json', 'yaml', 'form'])).toBe(format);
  });

  it.each([
    [
      'text/plain',
      ['json', 'yaml'],
      'content type text/plain is not supported; send application/json or text/yaml',
    ],
    [
      'application/x-www-form-urlencoded',
      ['json', 'yaml'],
      'content type application/x-www-form-urlencoded is not supported; send application/json or text/yaml',
    ],
    ['application/json; charset=latin1', ['json'], 'charset latin1 is not supported; send UTF-8'],
  ] as const)('refuses %s with a 415', (header, accepted, message) => {
    let error: unknown;
    try {
      bodyFormat(header, accepted);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(415);
    expect((error as ApiError).message).toBe(message);
  });
});

describe('replyFormat', () => {
  it.each([
    [undefined, 'json'],
    ['*/*', 'json'],
    ['text/yaml', 'yaml'],
    ['application/x-yaml', 'yaml'],
    ['application/json, text/yaml;q=0.5', 'json'],
    ['application/json;q=0.4, text/yaml', 'yaml'],
    ['text/yaml;q=0', 'json'],
  ] as const)('answers Accept %s with %s', (accept, format) => {
    expect(replyFormat(accept)).toBe(format);
  });
});
