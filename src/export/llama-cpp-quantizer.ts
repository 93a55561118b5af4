/**
 * llama.cpp's own quantizer as an oracle for our block codecs and quant mixes: a ~40-line C program
 * compiled at run time (needs a C compiler) that dlopens the prebuilt libllama / libggml-base shipped in
 * @node-llama-cpp/linux-x64 (no llama.cpp source here) and calls either llama_model_quantize (a whole
 * GGUF file, the same entry point as llama-quantize) or ggml_quantize_chunk (one tensor's rows).
 * Only struct fields that have been stable for years are touched: nthread and ftype, the first two
 * int32 fields of llama_model_quantize_params, on a copy of llama_model_quantize_default_params().
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { HaloError } from '../util/errors.js';

const SHIM_SOURCE = String.raw`
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
typedef struct { unsigned char bytes[1024]; } params_t; /* larger than the real struct: returned through a hidden pointer */
static void* need(void* lib, const char* name) {
  void* f = dlsym(lib, name);
  if (!f) { fprintf(stderr, "missing symbol %s\n", name); exit(3); }
  return f;
}
int main(int argc, char** argv) {
  if (argc < 2) return 2;
  char path[4096];
  if (strcmp(argv[1], "file") == 0 && argc == 7) { /* file LIBDIR IN OUT FTYPE THREADS */
    snprintf(path, sizeof path, "%s/%s", argv[2], "libllama.so");
    void* lib = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (!lib) { fprintf(stderr, "%s\n", dlerror()); return 3; }
    void (*backend_init)(void) = (void (*)(void))need(lib, "llama_backend_init");
    params_t (*defaults)(void) = (params_t (*)(void))need(lib, "llama_model_quantize_default_params");
    uint32_t (*quantize)(const char*, const char*, const params_t*) = (uint32_t (*)(const char*, const char*, const params_t*))need(lib, "llama_model_quantize");
    backend_init();
    params_t p = defaults();
    int32_t fields[2] = { atoi(argv[6]), atoi(argv[5]) };
    memcpy(p.bytes, fields, sizeof fields);
    return quantize(argv[3], argv[4], &p) == 0 ? 0 : 4;
  }
  if (strcmp(argv[1], "chunk") == 0 && argc == 7) { /* chunk LIBDIR TYPE ROWLEN IN OUT */
    snprintf(path, sizeof path, "%s/%s", argv[2], "libggml-base.so");
    void* lib = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (!lib) { fprintf(stderr, "%s\n", dlerror()); return 3; }
    size_t (*chunk)(int, const float*, void*, int64_t, int64_t, int64_t, const float*) =
        (size_t (*)(int, const float*, void*, int64_t, int64_t, int64_t, const float*))need(lib, "ggml_quantize_chunk");
    int type = atoi(argv[3]);
    int64_t row = atoll(argv[4]);
    FILE* in = fopen(argv[5], "rb");
    if (!in) return 5;
    fseek(in, 0, SEEK_END);
    long bytes = ftell(in);
    fseek(in, 0, SEEK_SET);
    float* values = malloc(bytes);
    if (fread(values, 1, bytes, in) != (size_t)bytes) return 5;
    fclose(in);
    int64_t rows = (bytes / 4) / row;
    unsigned char* out = malloc(bytes * 2 + 64);
    size_t written = chunk(type, values, out, 0, rows, row, NULL);
    FILE* o = fopen(argv[6], "wb");
    fwrite(out, 1, written, o);
    fclose(o);
    return 0;
  }
  return 2;
}
`;

export interface LlamaCppQuantizer {
  /** llama_model_quantize(input, output, ftype): what `llama-quantize input output TYPE` writes. */
  quantizeFile(input: string, output: string, fileType: number): void;
  /** ggml_quantize_chunk over all rows of `values` (no importance matrix). */
  quantizeTensor(type: number, values: Float32Array, rowLength: number): Uint8Array;
}

/** The folder holding node-llama-cpp's prebuilt CPU libraries, or undefined. */
export function prebuiltLlamaLibDir(): string | undefined {
  // node_modules above this file (dist/src/export/ in the package), then above the working directory
  const starts = [dirname(fileURLToPath(import.meta.url)), process.cwd()];
  for (const start of starts) {
    for (let dir = start; ; dir = dirname(dir)) {
      const bins = join(dir, 'node_modules', '@node-llama-cpp', 'linux-x64', 'bins');
      if (existsSync(bins)) {
        for (const entry of readdirSync(bins)) {
          const candidate = join(bins, entry);
          if (statSync(candidate).isDirectory() && readdirSync(candidate).some((name) => name.startsWith('libllama'))) return candidate;
        }
      }
      if (dirname(dir) === dir) break;
    }
  }
  return undefined;
}

/** Sonames the prebuilt libraries link against, as symlinks in `dir` (the npm package ships versioned names only). */
function linkSonames(libDir: string, dir: string): void {
  for (const name of readdirSync(libDir)) {
    const match = /^(lib[\w-]+)\.v[\d.]+\.so$/.exec(name);
    const target = join(libDir, name);
    const links = match ? [`${match[1]}.so`] : [];
    for (const line of spawnSync('readelf', ['-d', target], { encoding: 'utf8' }).stdout?.split('\n') ?? []) {
      const soname = /\(SONAME\)\s+Library soname: \[(.+)\]/.exec(line);
      if (soname) links.push(soname[1]);
    }
    for (const link of links) {
      if (link !== name && !existsSync(join(dir, link))) spawnSync('ln', ['-s', target, join(dir, link)]);
    }
    if (!existsSync(join(dir, name))) spawnSync('ln', ['-s', target, join(dir, name)]);
  }
}

/** Compiles the shim once per process; throws ERR_PEER_MISSING when the libraries or a C compiler are absent. */
export function openLlamaCppQuantizer(): LlamaCppQuantizer {
  const libDir = prebuiltLlamaLibDir();
  if (!libDir) throw new HaloError('ERR_PEER_MISSING', 'node-llama-cpp prebuilt libraries (@node-llama-cpp/linux-x64) are not installed', { fix: 'npm ci (dev dependencies)' });
  const dir = join(tmpdir(), `halo-forge-llama-quantize-${process.pid}`);
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true });
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  linkSonames(libDir, dir);
  const source = join(dir, 'shim.c');
  const binary = join(dir, 'shim');
  if (!existsSync(binary)) {
    writeFileSync(source, SHIM_SOURCE);
    const cc = spawnSync(process.env.CC ?? 'cc', ['-O1', '-o', binary, source, '-ldl'], { encoding: 'utf8' });
    if (cc.status !== 0) throw new HaloError('ERR_PEER_MISSING', `could not compile the llama.cpp quantizer shim: ${cc.stderr || cc.error?.message}`, { fix: 'install a C compiler (cc)' });
  }
  const run = (args: string[]): void => {
    const result = spawnSync(binary, args, { encoding: 'utf8', env: { ...process.env, LD_LIBRARY_PATH: `${dir}:${libDir}` }, maxBuffer: 64 << 20 });
    if (result.status !== 0) throw new Error(`llama.cpp quantizer shim ${args[0]} failed (${result.status}): ${result.stderr.slice(-2000)}`);
  };
  let counter = 0;
  return {
    quantizeFile(input, output, fileType) {
      run(['file', dir, input, output, String(fileType), '2']);
    },
    quantizeTensor(type, values, rowLength) {
      const id = counter++;
      const input = join(dir, `t${id}.f32`);
      const output = join(dir, `t${id}.q`);
      writeFileSync(input, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
      try {
        run(['chunk', dir, String(type), String(rowLength), input, output]);
        return new Uint8Array(readFileSync(output));
      } finally {
        rmSync(input, { force: true });
        rmSync(output, { force: true });
      }
    },
  };
}
