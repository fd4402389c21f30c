/**
 * Keeps the hidden classes of the library's objects alive between short-lived pools.
 *
 * V8 compiles hot functions for the hidden classes ("maps") of the objects they saw, and holds
 * those maps weakly: a class's constructor keeps only the empty map its instances start from,
 * and the maps their fields lead to hang off it by weak transitions. Once every instance is
 * gone, a full collection (the bench's `gc()` between rounds) frees those maps, and V8 throws
 * away every function compiled for them ("weak objects" in `--trace-deopt`): the next pool runs
 * unoptimized until compiled again, about 30 ms per round at 10,000 children on Node 20 (bench
 * S1). One idle instance of each class, kept for the life of the process, keeps the maps and the
 * compiled code.
 */

const kept: object[] = [];

/** Keeps `instance` alive for the life of the process, and with it the maps of its class. */
export function keepShape(instance: object): void {
  kept.push(instance);
}
