import { describe, expect, it } from '@jest/globals';
import { appliedFieldSet, project, stripManagedFields } from '../../src/controller/transform.ts';
import type { KubeObject } from '../../src/kube/resources.ts';

const obj = (managedFields?: unknown[]): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'c', ...(managedFields ? { managedFields } : {}) },
  data: { a: '1' },
});

describe('project', () => {
  it('matches list items by value and by index, and keeps a leaf whole', () => {
    expect(project(['a', 'b', 'c'], { 'v:"c"': {}, 'v:"a"': {} })).toEqual(['a', 'c']);
    expect(project([{ x: 1, y: 2 }, { x: 3 }], { 'i:1': { 'f:x': {} } })).toEqual([{ x: 3 }]);
    expect(project({ a: { deep: [1, 2] }, b: 1 }, { 'f:a': {} })).toEqual({ a: { deep: [1, 2] } });
    expect(project({ a: 1 }, { '.': {} })).toEqual({ a: 1 });
  });
});

describe('appliedFieldSet', () => {
  it("finds a manager's Apply entry, not its Update or status ones; {} if it has none, undefined without managedFields", () => {
    const fields = { 'f:data': { 'f:a': {} } };
    const entries = [
      { manager: 'op', operation: 'Update', fieldsV1: { 'f:data': {} } },
      { manager: 'op', operation: 'Apply', subresource: 'status', fieldsV1: { 'f:status': {} } },
      { manager: 'op', operation: 'Apply', fieldsV1: fields },
    ];
    expect(appliedFieldSet(obj(entries), 'op')).toBe(fields);
    expect(appliedFieldSet(obj(entries), 'other')).toEqual({});
    expect(appliedFieldSet(obj(), 'op')).toBeUndefined();
  });
});

describe('stripManagedFields', () => {
  it('drops managedFields and nothing else', () => {
    const o = obj([{ manager: 'op' }]);
    expect(stripManagedFields(o)).toBe(o);
    expect(o).toEqual({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: '1' } });
  });
});
