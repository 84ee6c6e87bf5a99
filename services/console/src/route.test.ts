import { describe, expect, it } from 'vitest';
import { parseRoute, type Route, routeHash } from './route.js';

describe('console routes', () => {
  it.each<[string, Route]>([
    ['', { page: 'resources', type: 'AccessPolicy' }],
    ['#/try', { page: 'try' }],
    ['#/test', { page: 'test' }],
    ['#/decisions', { page: 'decisions' }],
    ['#/resources/Role', { page: 'resources', type: 'Role' }],
    ['#/resources/AccessPolicy/p.1', { page: 'resources', type: 'AccessPolicy', id: 'p.1' }],
    ['#/resources/User/$new', { page: 'resources', type: 'User', creating: true }],
  ])('%s', (hash, route) => {
    expect(parseRoute(hash)).toEqual(route);
    if (hash !== '') expect(routeHash(route)).toBe(hash);
  });

  it('reads an unknown type as the AccessPolicy list', () => {
    expect(parseRoute('#/resources/Nope/x')).toEqual({ page: 'resources', type: 'AccessPolicy', id: 'x' });
  });
});
