// What the agent sees of a host's NVIDIA GPUs in one tick (the driver's own view, from nvidia-smi).

/** `ok`; `reset-required`: a field read "[GPU requires reset]"; `error`: a field read "[Unknown Error]" or "ERR!". */
type GpuHealth = 'ok' | 'reset-required' | 'error';

/** MIG mode as `mig.mode.current` reports it; `unsupported` for "[N/A]" / "[Not Supported]" (GPUs without MIG). */
export type MigMode = 'enabled' | 'disabled' | 'unsupported';

/** A compute process the driver reports on a GPU: anyone's, the agents' own jobs included. */
interface GpuProcess {
  pid: number;
  /** MiB; null when the driver does not say ("[N/A]", "[Insufficient Permissions]"). */
  usedMemoryMiB: number | null;
  /** null when hidden ("[Insufficient Permissions]"). */
  name: string | null;
}

export interface GpuDevice {
  /** nvidia-smi's index: its enumeration order, which may change at boot; the uuid does not. */
  index: number;
  /** "GPU-…": the stable name, the one to lease and to put in CUDA_VISIBLE_DEVICES. */
  uuid: string;
  /** Product name, e.g. "NVIDIA A100-SXM4-80GB". */
  model: string;
  /** PCI bus id as nvidia-smi prints it ("00000000:07:00.0"); null when not reported. */
  busId: string | null;
  memoryTotalMiB: number | null;
  memoryUsedMiB: number | null;
  memoryFreeMiB: number | null;
  /** Percent of the last sample period a kernel ran; null when not reported (MIG mode, old GeForce). */
  utilizationPct: number | null;
  temperatureC: number | null;
  mig: MigMode;
  health: GpuHealth;
  /** Every compute process on this GPU (the caller tells its own jobs' pids from foreign ones). */
  processes: GpuProcess[];
  /** Why no job may be placed on this GPU (MIG mode, needs a reset, an error), or null when one may. */
  unusable: string | null;
}

/** A GPU nvidia-smi could not open ("Unable to determine the device handle for GPU…"): no row of its own. */
export interface LostGpu {
  index: number | null;
  busId: string | null;
  /** The driver's words, e.g. "GPU is lost.  Reboot the system to recover this GPU" or "Unknown Error". */
  reason: string;
}

/**
 * - `ok`: nvidia-smi answered (some GPUs may still be lost or unusable: see `problem`)
 * - `no-nvidia-smi`: no such command (a host without an NVIDIA driver: a CPU-only server)
 * - `driver-error`: the command exists but cannot talk to the driver (not loaded, version mismatch)
 * - `no-devices`: the driver answers and sees no GPU
 * - `timeout`: nvidia-smi did not answer in time (a hung GPU or driver)
 * - `failed`: any other failure, with nvidia-smi's words in `problem`
 */
export type GpuProbeStatus = 'ok' | 'no-nvidia-smi' | 'driver-error' | 'no-devices' | 'timeout' | 'failed';

export interface HostGpuView {
  /** ISO time the probe started. */
  probedAt: string;
  status: GpuProbeStatus;
  /** Usable and unusable GPUs, in index order. */
  gpus: GpuDevice[];
  lost: LostGpu[];
  /** false when the process list could not be read: then no GPU may be taken as free. */
  processesKnown: boolean;
  /** One line for the member / `doctor` / the hosts table when something is wrong; null when all is well. */
  problem: string | null;
  /** Lines nvidia-smi printed that are neither data nor a known error (warnings, e.g. a corrupted infoROM). */
  notes: string[];
}
