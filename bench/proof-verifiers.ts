/** `npm run -s proof:verifiers`: the acceptance counts on the real datasets (full Codeforces set), then one JSON line. */
import { Sandbox } from '../src/verifiers/sandbox.js';
import { bfcl, codeforcesCompile, datasetsDir, gsm8k, humanEval, mbppTrain, type Count } from './verifier-acceptance.js';

async function main(): Promise<void> {
  const dir = datasetsDir();
  if (!dir) {
    console.log('proof:verifiers: skipped — no datasets folder (set HALO_FORGE_DATA_DIR or provide ../shared/datasets)');
    return;
  }
  const sandbox = Sandbox.create({});
  const line = (label: string, count: Count, extra = '') => console.log(`${label.padEnd(44)} ${count.passed}/${count.total}${extra} (${count.seconds.toFixed(1)} s)`);
  const summary: Record<string, unknown> = {};
  const record = (key: string, count: Count) => {
    summary[key] = { passed: count.passed, total: count.total, failures: count.failures.map((failure) => failure.id) };
  };
  const heCanon = await humanEval(dir, sandbox, 'canonical');
  line('HumanEval canonical solutions succeed', heCanon);
  record('humaneval_canonical', heCanon);
  const heNone = await humanEval(dir, sandbox, 'return-none');
  const noneSuccesses = heNone.passed;
  console.log(`${'HumanEval `return None` bodies succeed'.padEnd(44)} ${noneSuccesses}/${heNone.total}`);
  summary.humaneval_return_none_successes = noneSuccesses;
  const mbpp = await mbppTrain(dir, sandbox);
  line('MBPP train references pass their tests', mbpp, ` = ${((100 * mbpp.passed) / mbpp.total).toFixed(1)} %`);
  for (const failure of mbpp.failures) console.log(`  mbpp ${failure.id}: ${failure.reason}`);
  record('mbpp_train', mbpp);
  const cf = await codeforcesCompile(dir, sandbox);
  line('Codeforces C++ references compile (>= 0.5)', cf, ` = ${((100 * cf.passed) / cf.total).toFixed(1)} %`);
  for (const failure of cf.failures) console.log(`  codeforces ${failure.id}: ${failure.reason}`);
  record('codeforces_compile', cf);
  const own = await gsm8k(dir, 'own');
  line('GSM8K test solutions vs own answer', own);
  record('gsm8k_own', own);
  const plus = await gsm8k(dir, 'plus-one');
  console.log(`${'GSM8K final number + 1 succeeds'.padEnd(44)} ${plus.passed}/${plus.total}`);
  summary.gsm8k_plus_one_successes = plus.passed;
  const truth = await bfcl(dir, 'ground-truth');
  line('BFCL simple ground truth scores 1.0', truth);
  record('bfcl_ground_truth', truth);
  const wrong = await bfcl(dir, 'wrong-function');
  line('BFCL wrong function name scores 0.25', wrong);
  record('bfcl_wrong_function', wrong);
  const missing = await bfcl(dir, 'missing-required');
  line('BFCL missing required argument scores 0.5', missing);
  record('bfcl_missing_required', missing);
  const ok = heCanon.passed === heCanon.total && noneSuccesses === 0 && mbpp.passed / mbpp.total >= 0.95 && cf.passed / cf.total >= 0.95
    && own.passed === own.total && plus.passed === 0 && truth.passed === truth.total && wrong.passed === wrong.total && missing.passed === missing.total;
  console.log(JSON.stringify({ proof: 'verifiers', ok, sandbox: sandbox.mode, processCap: sandbox.processCap, ...summary }));
  if (!ok) process.exitCode = 1;
}

await main();
