export * from './client.ts';
export * from './resources.ts';
