/** The CPU's model name as /proc/cpuinfo gives it (os.cpus() elsewhere). */
export declare function cpuModel(): string;
/**
* Captured at start, before the bench loads the machine: the 1-minute load average then is
* foreign load (other processes), which is what makes a number from a shared box suspect.
*/
export interface Machine {
  cpu: string;
  cores: number;
  backend: string;
  threads: number;
  node: string;
  loadAtStart: number;
}
export declare function machine(info: { backend: string; isa: string; threads: number }): Machine;
/** One line under a table: where and under what load the numbers were taken. */
export declare function machineLine(m: Machine): string;
/** The q-quantile (0..1) by nearest rank; NaN for no data. */
export declare function quantile(xs: readonly number[], q: number): number;
export declare const median: (xs: readonly number[]) => number;
export declare const mean: (xs: readonly number[]) => number;
/** A markdown table; numbers are already formatted by the caller. Right-aligns every column but the first. */
export declare function table(header: readonly string[], rows: readonly (readonly string[])[]): string;
export declare const fmt: (x: number, digits?: number) => string;
export declare const mib: (bytes: number) => string;
export declare const int: (x: number) => string;
/** A positive integer flag, or a one-line usage error naming the flag. */
export declare function intFlag(name: string, v: string | undefined, fallback: number): number;
