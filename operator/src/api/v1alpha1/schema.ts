import { Type } from 'typebox';

/** Building blocks of the v1alpha1 schemas: CEL rules, the patterns fields share, enums. */

type Rule = { rule: string; message: string; fieldPath?: string; reason?: string };
export const rules = (...list: Rule[]) => ({ 'x-kubernetes-validations': list });

export const DNS_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
export const HOSTNAME = '^([a-z0-9]([-a-z0-9]*[a-z0-9])?\\.)+[a-z]{2,63}$';
export const QUANTITY = '^[0-9]+(\\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$';
export const DURATION = '^([0-9]+(s|m|h))+$';

export const Enum = <const T extends string[]>(values: readonly [...T], options: { description: string; default?: T[number] }) =>
  Type.Enum(values, options);
