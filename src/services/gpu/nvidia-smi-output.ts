// Parsers for nvidia-smi's query mode (`--query-gpu`, `--query-compute-apps` with
// `--format=csv,noheader,nounits`) and its list mode (`-L`). Field names and value forms are those
// of NVIDIA's nvidia-smi documentation (`nvidia-smi --help-query-gpu`, `--help-query-compute-apps`):
// rows are ", "-separated and unquoted; a value the driver cannot give reads "[N/A]",
// "[Not Supported]", "[Insufficient Permissions]", "[Unknown Error]" or "[GPU requires reset]".
// nvidia-smi prints its error lines on stdout or stderr depending on the driver, so both are read.
import type { GpuDevice, LostGpu, MigMode } from './types.js';

const GPU_FIELDS = [
  'index', 'uuid', 'name', 'pci.bus_id', 'memory.total', 'memory.used', 'memory.free',
  'utilization.gpu', 'temperature.gpu', 'mig.mode.current',
] as const;
// `used_memory` is NVIDIA's documented alias of `used_gpu_memory`; the name goes last because a
// process name may itself contain ", ".
const APP_FIELDS = ['gpu_uuid', 'pid', 'used_memory', 'process_name'] as const;

const CSV = '--format=csv,noheader,nounits';
export const GPU_QUERY_ARGS = [`--query-gpu=${GPU_FIELDS.join(',')}`, CSV];
export const APPS_QUERY_ARGS = [`--query-compute-apps=${APP_FIELDS.join(',')}`, CSV];

/** One query-gpu row, values as the driver gave them (null where it gave none): a GpuDevice before
 * its processes and verdict are known, with the first error token seen (for the member's message). */
export type GpuRow = Omit<GpuDevice, 'processes' | 'unusable'> & { healthDetail: string | null };

export interface AppRow {
  gpuUuid: string;
  pid: number;
  usedMemoryMiB: number | null;
  name: string | null;
}

/** What stops nvidia-smi from reporting at all, from its own words. */
interface SmiFailure {
  kind: 'driver-error' | 'no-devices';
  message: string;
}

export interface ParsedOutput<Row> {
  rows: Row[];
  lost: LostGpu[];
  failure: SmiFailure | null;
  /** Lines that are neither rows nor known errors. */
  notes: string[];
}

type Trouble = { kind: 'reset' | 'error'; text: string };
type Cell = { kind: 'value'; text: string } | { kind: 'absent' } | Trouble;

function cell(raw: string): Cell {
  const text = raw.trim();
  if (text === '' || /^\[?(N\/A|Not Supported|Insufficient Permissions)\]?$/i.test(text)) return { kind: 'absent' };
  if (/^\[GPU requires reset\]$/i.test(text)) return { kind: 'reset', text };
  // "ERR!" is what the table view shows for a field of a GPU in trouble; accepted here as well.
  if (/^\[.*(error|lost).*\]$/i.test(text) || text === 'ERR!') return { kind: 'error', text };
  return { kind: 'value', text };
}

/** A number from a cell, tolerating units in case a caller dropped `nounits` ("81920 MiB", "35 %"). */
function num(c: Cell): number | null {
  if (c.kind !== 'value') return null;
  const m = /^(-?\d+(?:\.\d+)?)(?:\s*(?:MiB|%|C))?$/.exec(c.text);
  return m ? Number(m[1]) : null;
}

const text = (c: Cell): string | null => (c.kind === 'value' ? c.text : null);

/** Splits a row into exactly `count` fields; extra ", " pieces belong to the free-text field at `textAt`. */
function fields(line: string, count: number, textAt: number): string[] | null {
  const parts = line.split(',').map((p) => p.trim());
  if (parts.length < count) return null;
  const extra = parts.length - count;
  return [...parts.slice(0, textAt), parts.slice(textAt, textAt + extra + 1).join(', '), ...parts.slice(textAt + extra + 1)];
}

function migMode(c: Cell): MigMode {
  const t = text(c)?.toLowerCase();
  return t === 'enabled' ? 'enabled' : t === 'disabled' ? 'disabled' : 'unsupported';
}

const BUS_ID = '[0-9a-f]{1,8}:[0-9a-f]{2}:[0-9a-f]{2}\\.[0-9a-f]';
const DEVICE_HANDLE = /^Unable to determine the device handle for GPU\s*(.*)$/i;

/** "Unable to determine the device handle for GPU…" in each form drivers have printed it. */
export function parseDeviceHandleError(line: string): LostGpu | null {
  const m = DEVICE_HANDLE.exec(line.trim());
  if (!m) return null;
  const rest = m[1]!;
  let r: RegExpExecArray | null;
  if ((r = new RegExp(`^(\\d+):\\s+(${BUS_ID}):\\s*(.*)$`, 'i').exec(rest))) return { index: Number(r[1]), busId: r[2]!, reason: r[3]!.trim() || 'Unknown Error' };
  if ((r = new RegExp(`^(${BUS_ID}):\\s*(.*)$`, 'i').exec(rest))) return { index: null, busId: r[1]!, reason: r[2]!.trim() || 'Unknown Error' };
  if ((r = /^(\d+)(?::\s*(.*))?$/.exec(rest))) return { index: Number(r[1]), busId: null, reason: r[2]?.trim() || 'Unknown Error' };
  return { index: null, busId: null, reason: rest.trim() || 'Unknown Error' };
}

/** nvidia-smi's whole-command failures: no driver, a driver/library mismatch, no GPU. */
function parseFailure(line: string): SmiFailure | null {
  const t = line.trim();
  if (/couldn't communicate with the NVIDIA driver/i.test(t)) return { kind: 'driver-error', message: t };
  if (/^Failed to initialize NVML/i.test(t)) return { kind: 'driver-error', message: t };
  if (/couldn't find libnvidia-ml\.so/i.test(t)) return { kind: 'driver-error', message: t };
  if (/^No devices were found/i.test(t)) return { kind: 'no-devices', message: t };
  return null;
}

/** What a row parser makes of one line: a row, a GPU that is lost, a line it consumed, or nothing it knows. */
type LineResult<Row> = { row: Row } | { lost: LostGpu } | 'consumed' | null;

/** Lines of both streams, with the error lines sorted out from the data rows. */
function parseLines<Row>(output: string, parseRow: (line: string) => LineResult<Row>): ParsedOutput<Row> {
  const result: ParsedOutput<Row> = { rows: [], lost: [], failure: null, notes: [] };
  for (const line of output.split('\n')) {
    if (!line.trim()) continue;
    const lost = parseDeviceHandleError(line);
    const failure = lost ? null : parseFailure(line);
    const parsed = lost || failure ? null : parseRow(line);
    if (lost) result.lost.push(lost);
    else if (failure) result.failure ??= failure;
    else if (parsed === 'consumed') continue;
    else if (parsed && 'row' in parsed) result.rows.push(parsed.row);
    else if (parsed) result.lost.push(parsed.lost);
    else result.notes.push(line.trim());
  }
  return result;
}

function gpuRow(line: string): LineResult<GpuRow> {
  const f = fields(line, GPU_FIELDS.length, 2);
  if (!f) return null;
  const c = f.map(cell);
  const index = num(c[0]!);
  if (index === null || !Number.isInteger(index)) return null;
  const uuid = text(c[1]!);
  const busId = text(c[3]!);
  // A row whose uuid the driver cannot read names no GPU a job could be given: report it as lost.
  if (!uuid || !/^GPU-/i.test(uuid)) return { lost: { index, busId, reason: f[1] || 'no UUID reported' } };
  const bad = c.find((x): x is Trouble => x.kind === 'reset') ?? c.find((x): x is Trouble => x.kind === 'error');
  const row: GpuRow = {
    index,
    uuid,
    model: text(c[2]!) ?? 'unknown GPU',
    busId,
    memoryTotalMiB: num(c[4]!),
    memoryUsedMiB: num(c[5]!),
    memoryFreeMiB: num(c[6]!),
    utilizationPct: num(c[7]!),
    temperatureC: num(c[8]!),
    mig: migMode(c[9]!),
    health: bad?.kind === 'reset' ? 'reset-required' : bad ? 'error' : 'ok',
    healthDetail: bad?.text ?? null,
  };
  return { row };
}

function appRow(line: string): LineResult<AppRow> {
  const f = fields(line, APP_FIELDS.length, 3);
  if (!f) return null;
  const c = f.map(cell);
  const gpuUuid = text(c[0]!);
  const pid = num(c[1]!);
  if (!gpuUuid || pid === null || !Number.isInteger(pid)) return null;
  return { row: { gpuUuid, pid, usedMemoryMiB: num(c[2]!), name: text(c[3]!) } };
}

/** `nvidia-smi --query-gpu=<GPU_FIELDS> --format=csv,noheader,nounits`, stdout and stderr joined. */
export const parseGpuQuery = (output: string): ParsedOutput<GpuRow> => parseLines(output, gpuRow);

/** `nvidia-smi --query-compute-apps=<APP_FIELDS> --format=csv,noheader,nounits`, stdout and stderr joined. */
export const parseComputeApps = (output: string): ParsedOutput<AppRow> => parseLines(output, appRow);

interface ListedMig {
  /** GPU instance profile, e.g. "1g.10gb". */
  profile: string;
  device: number;
  /** "MIG-…" (R470 and later) or "MIG-GPU-…/gi/ci" (R450/R460): what CUDA_VISIBLE_DEVICES takes. */
  uuid: string;
}

export interface ListedGpu {
  index: number;
  model: string;
  uuid: string;
  mig: ListedMig[];
}

/** `nvidia-smi -L`: each GPU with the MIG devices listed under it. */
export function parseGpuList(output: string): ParsedOutput<ListedGpu> {
  let current: ListedGpu | null = null;
  return parseLines<ListedGpu>(output, (line) => {
    const gpu = /^GPU\s+(\d+):\s*(.*?)\s*\(UUID:\s*(GPU-[^)\s]+)\)/.exec(line.trim());
    if (gpu) {
      current = { index: Number(gpu[1]), model: gpu[2]!, uuid: gpu[3]!, mig: [] };
      return { row: current };
    }
    const mig = /^MIG\s+(\S+)\s+Device\s+(\d+):\s*\(UUID:\s*(MIG-[^)\s]+)\)/.exec(line.trim());
    if (!mig || !current) return null;
    current.mig.push({ profile: mig[1]!, device: Number(mig[2]), uuid: mig[3]! });
    return 'consumed';
  });
}
