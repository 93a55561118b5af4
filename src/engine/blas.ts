/**
 * Which BLAS this process really calls: libtorch links libblas.so.3, a Debian "alternative" that may
 * be OpenBLAS or the ~25x slower reference implementation. We read the mapped libraries.
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';

export type BlasName = 'openblas' | 'mkl' | 'blis' | 'reference' | 'unknown';

export interface BlasInfo {
  name: BlasName;
  /** The resolved file libblas.so.3 (or the BLAS library) points to. */
  library: string | null;
  /** Every BLAS-like library mapped into this process. */
  mapped: string[];
}

export function mappedLibraries(mapsPath = '/proc/self/maps'): string[] {
  if (!existsSync(mapsPath)) return [];
  const libraries = new Set<string>();
  for (const line of readFileSync(mapsPath, 'utf8').split('\n')) {
    const path = line.slice(line.indexOf('/'));
    if (line.includes('/') && path.includes('.so')) libraries.add(path.trim());
  }
  return [...libraries];
}

function classify(path: string): BlasName {
  if (/mkl/.test(path)) return 'mkl';
  if (/openblas/.test(path)) return 'openblas';
  if (/blis/.test(path)) return 'blis';
  if (/atlas/.test(path)) return 'unknown';
  if (/\/blas\/libblas\.so/.test(path) || /refblas/.test(path)) return 'reference';
  return 'unknown';
}

export function detectBlas(libraries: string[] = mappedLibraries()): BlasInfo {
  const blasLike = libraries.filter((path) => /blas|mkl|blis/.test(path));
  // The generic libblas.so.3 is what libtorch's sgemm_ resolves to; classify its real target first.
  const generic = blasLike.find((path) => /\/libblas\.so(\.\d+)*$/.test(path));
  if (generic) {
    const target = safeRealpath(generic);
    const name = classify(target);
    if (name !== 'unknown') return { name, library: target, mapped: blasLike };
  }
  for (const path of blasLike) {
    const name = classify(safeRealpath(path));
    if (name !== 'unknown') return { name, library: safeRealpath(path), mapped: blasLike };
  }
  return { name: 'unknown', library: null, mapped: blasLike };
}

function safeRealpath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** The apt command that replaces reference BLAS with OpenBLAS. */
export const BLAS_FIX = 'sudo apt-get install libopenblas0-openmp (then `update-alternatives --display libblas.so.3-x86_64-linux-gnu` should point at openblas)';
