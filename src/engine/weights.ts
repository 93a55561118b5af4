/** Finds a model folder's safetensors files: model.safetensors, or the shards named by model.safetensors.index.json. */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { HaloError } from '../util/errors.js';

export function safetensorsFiles(dir: string): string[] {
  const indexPath = join(dir, 'model.safetensors.index.json');
  if (existsSync(indexPath)) {
    let weightMap: unknown;
    try {
      weightMap = (JSON.parse(readFileSync(indexPath, 'utf8')) as { weight_map?: unknown }).weight_map;
    } catch (error) {
      throw new HaloError('ERR_SAFETENSORS', `${indexPath} is not valid JSON: ${(error as Error).message}`, { fix: 'restore the index file from the model source' });
    }
    if (typeof weightMap !== 'object' || weightMap === null) {
      throw new HaloError('ERR_SAFETENSORS', `${indexPath} has no "weight_map" object`, { fix: 'restore the index file from the model source' });
    }
    const shards = [...new Set(Object.values(weightMap as Record<string, unknown>).map(String))].sort();
    const files = shards.map((shard) => join(dir, shard));
    const missing = files.filter((file) => !existsSync(file));
    if (missing.length > 0) {
      throw new HaloError('ERR_SAFETENSORS', `${indexPath} names shards that are missing: ${missing.join(', ')}`, { fix: 'download the missing shards again' });
    }
    return files;
  }
  const single = join(dir, 'model.safetensors');
  if (existsSync(single)) return [single];
  const others = existsSync(dir) ? readdirSync(dir).filter((name) => name.endsWith('.safetensors')).sort() : [];
  if (others.length === 1) return [join(dir, others[0])];
  throw new HaloError('ERR_SAFETENSORS', `no model.safetensors or model.safetensors.index.json in ${dir}`, {
    fix: 'convert the checkpoint to safetensors (pytorch_model.bin is not read), or point at the right folder',
  });
}
