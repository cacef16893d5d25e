/// <reference types="vite/client" />
// Build-time constants and modules (see vite.config.ts).
declare const __SOURCE__: 'agent' | 'supabase';

declare module 'virtual:lab-machines' {
  import type { MachineGraph } from '../../src/services/viz/machine-graph.js';
  const machines: Record<'job' | 'jupyter', { graph: MachineGraph; svg: string }>;
  export default machines;
}
